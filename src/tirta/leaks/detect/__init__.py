"""Leak detectors: DMA-flow balance, pressure-sensor regression and their ensemble.

Each detector is fitted on a calibration period and maps telemetry frames (SI) to :class:`Alarm` s.
"""

from __future__ import annotations

from tirta.leaks.detect.base import Alarm, Change, Detector, cusum
from tirta.leaks.detect.ensemble import Ensemble
from tirta.leaks.detect.flow import FlowDetector, night_flow
from tirta.leaks.detect.pressure import PressureDetector, PressureModel

__all__ = [
    "Alarm",
    "Change",
    "Detector",
    "Ensemble",
    "FlowDetector",
    "PressureDetector",
    "PressureModel",
    "cusum",
    "night_flow",
]
