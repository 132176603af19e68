"""The ``tirta serve`` process runtime: scheduled analytics, MQTT ingestion, the demo's replay.

All of it shares the API's one store handle, whose writes are serialised (:class:`SerialStore`).
"""

from __future__ import annotations

from tirta.server.jobs import Analytics, BalanceJob, DetectJob
from tirta.server.mqtt import MqttService
from tirta.server.replay import Replay
from tirta.server.runtime import Runtime
from tirta.server.scheduler import Job, JobState, Scheduler, wall_clock
from tirta.server.settings import RuntimeSettings, parse_duration, runtime_settings
from tirta.server.writes import SerialStore, serialise

__all__ = [
    "Analytics",
    "BalanceJob",
    "DetectJob",
    "Job",
    "JobState",
    "MqttService",
    "Replay",
    "Runtime",
    "RuntimeSettings",
    "Scheduler",
    "SerialStore",
    "parse_duration",
    "runtime_settings",
    "serialise",
    "wall_clock",
]
