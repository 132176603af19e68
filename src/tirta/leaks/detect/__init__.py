"""Leak detectors: DMA-flow balance, pressure-sensor regression, hydraulic-model residuals, their ensemble.

Each detector is fitted on a calibration period and maps telemetry frames (SI) to :class:`Alarm` s.
"""

from __future__ import annotations

from tirta.leaks.detect.base import Alarm, Change, Detector, cusum
from tirta.leaks.detect.ensemble import Ensemble
from tirta.leaks.detect.flow import FlowDetector, night_flow
from tirta.leaks.detect.model import ModelDetector, model_pressures
from tirta.leaks.detect.pressure import PressureDetector, PressureModel

__all__ = [
    "Alarm",
    "Change",
    "Detector",
    "Ensemble",
    "FlowDetector",
    "ModelDetector",
    "PressureDetector",
    "PressureModel",
    "cusum",
    "model_pressures",
    "night_flow",
]
