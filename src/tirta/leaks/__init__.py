"""Leaks: detect leaks and bursts in telemetry, localise them on the network and score the results.

Detectors are pure functions over SI frames; localisation moves a leak through the hydraulic engine;
events follow each leak found in stored telemetry from open to closed.
"""

from __future__ import annotations

from tirta.leaks.detect import (
    Alarm,
    Detector,
    Ensemble,
    FlowDetector,
    ModelDetector,
    PressureDetector,
    PressureModel,
    cusum,
)
from tirta.leaks.evaluate import (
    Detection,
    PipeDistances,
    Score,
    read_results,
    score,
    score_battledim,
    score_operational,
    summarise,
    write_results,
)
from tirta.leaks.events import (
    Event,
    get_event,
    list_events,
    open_event,
    propose_close,
    transition,
    update_event,
    water_lost_m3,
)
from tirta.leaks.live import CloseRule, LiveResult, read_scada, run_live
from tirta.leaks.localize import (
    Candidate,
    Executor,
    Localisation,
    ProcessExecutor,
    SerialExecutor,
    Signatures,
    cached_signatures,
    compute_signatures,
    localise,
)
from tirta.leaks.pipeline import Found, PipelineConfig, run, run_files
from tirta.leaks.zones import Zone, metered_zones, zone_inflow

__all__ = [
    "Alarm",
    "Candidate",
    "CloseRule",
    "Detection",
    "Detector",
    "Ensemble",
    "Event",
    "Executor",
    "FlowDetector",
    "Found",
    "LiveResult",
    "Localisation",
    "ModelDetector",
    "PipeDistances",
    "PipelineConfig",
    "PressureDetector",
    "PressureModel",
    "ProcessExecutor",
    "Score",
    "SerialExecutor",
    "Signatures",
    "Zone",
    "cached_signatures",
    "compute_signatures",
    "cusum",
    "get_event",
    "list_events",
    "localise",
    "metered_zones",
    "open_event",
    "propose_close",
    "read_results",
    "read_scada",
    "run",
    "run_files",
    "run_live",
    "score",
    "score_battledim",
    "score_operational",
    "summarise",
    "transition",
    "update_event",
    "water_lost_m3",
    "write_results",
    "zone_inflow",
]
