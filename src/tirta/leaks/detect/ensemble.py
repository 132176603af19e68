"""The ensemble: several detectors, one list of alarms.

Flow-balance alarms lead (they carry a size and a zone); pressure alarms close in time raise their
confidence. Pressure-only alarms count only where no metered zone watches the flows.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from tirta.leaks.detect.base import Alarm
from tirta.leaks.detect.flow import FlowDetector
from tirta.leaks.detect.pressure import PressureDetector
from tirta.network.model import Network
from tirta.telemetry.battledim import ScadaData

__all__ = ["Ensemble"]


@dataclass
class Ensemble:
    """Combine a :class:`FlowDetector` and a :class:`PressureDetector` (``window_h``: matching span)."""

    flow: FlowDetector = field(default_factory=FlowDetector)
    pressure: PressureDetector = field(default_factory=PressureDetector)
    window_h: float = 6.0
    name: str = "ensemble"

    def fit(self, train: ScadaData, network: Network, *, exclude: np.ndarray | None = None) -> Ensemble:
        self.flow.fit(train, network, exclude=exclude)
        if not train.pressure.empty:
            self.pressure.fit(train, network, exclude=exclude)
        return self

    def detect(self, data: ScadaData) -> list[Alarm]:
        flow = self.flow.detect(data) if self.flow.zones else []
        press = self.pressure.detect(data) if self.pressure.model.model is not None else []
        window = pd.Timedelta(hours=self.window_h)
        out = []
        for a in flow:
            near = [p for p in press if abs(p.start - a.start) <= window]
            if near:
                best = max(p.confidence for p in near)
                a = replace(
                    a, confidence=1.0 - (1.0 - a.confidence) * (1.0 - best), method="dma_flow+pressure"
                )
            out.append(a)
        if not self.flow.zones:
            out.extend(press)
        return sorted(out, key=lambda a: a.start)
