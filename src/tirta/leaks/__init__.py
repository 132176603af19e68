"""Leaks: detect leaks and bursts in telemetry, localise them on the network and score the results.

Detectors are pure functions over SI frames; localisation moves a leak through the hydraulic engine.
"""

from __future__ import annotations

from tirta.leaks.detect import (
    Alarm,
    Detector,
    Ensemble,
    FlowDetector,
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
    "Detection",
    "Detector",
    "Ensemble",
    "Executor",
    "FlowDetector",
    "Found",
    "Localisation",
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
    "localise",
    "metered_zones",
    "read_results",
    "run",
    "run_files",
    "score",
    "score_battledim",
    "score_operational",
    "summarise",
    "write_results",
    "zone_inflow",
]
