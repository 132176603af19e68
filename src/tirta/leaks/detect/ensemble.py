"""The ensemble: several detectors, one list of alarms.

Flow-balance alarms lead (they carry a size and a zone); pressure-regression and hydraulic-model
alarms close in time raise their confidence. Pressure-only alarms count only where no metered zone
watches the flows; hydraulic-model alarms without a flow alarm count only when ``model_alarms`` is on
(on the tuning scenarios they added false alarms: the model corroborates, it does not lead).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from tirta.errors import ModelError, SimulationError, TirtaError
from tirta.leaks.detect.base import Alarm
from tirta.leaks.detect.flow import FlowDetector
from tirta.leaks.detect.model import ModelDetector
from tirta.leaks.detect.pressure import PressureDetector
from tirta.network.model import Network
from tirta.telemetry.battledim import ScadaData

__all__ = ["Ensemble"]


@dataclass
class Ensemble:
    """Combine a :class:`FlowDetector`, a :class:`PressureDetector` and a :class:`ModelDetector`
    (``None``: off); ``window_h``/``model_window_h``: matching spans; ``model_alarms``: model-only
    alarms count (off by default: on the tuning seeds they cost precision, see benchmarks/leaks.py)."""

    flow: FlowDetector = field(default_factory=FlowDetector)
    pressure: PressureDetector = field(default_factory=PressureDetector)
    model: ModelDetector | None = field(default_factory=ModelDetector)
    model_alarms: bool = False
    model_window_h: float = 24.0
    window_h: float = 6.0
    name: str = "ensemble"

    def fit(self, train: ScadaData, network: Network, *, exclude: np.ndarray | None = None) -> Ensemble:
        self.flow.fit(train, network, exclude=exclude)
        if not train.pressure.empty:
            self.pressure.fit(train, network, exclude=exclude)
            if self.model is not None and len(train.pressure.columns) >= 3:
                try:
                    self.model.fit(train, network, exclude=exclude)
                except (TirtaError, ValueError, np.linalg.LinAlgError) as exc:
                    # corroboration only: a model that cannot be driven must not stop detection
                    warnings.warn(f"hydraulic-model detector off: {exc}", stacklevel=2)
                    self.model.sigma = None
        return self

    def set_reference(self, recent: ScadaData, since: pd.Timestamp | None = None) -> None:
        """Known leaks still open at the end of ``recent`` are the new normal for every detector."""
        self.flow.set_reference(recent, since=since)
        if self._model_ready():
            assert self.model is not None
            self.model.set_reference(recent, since=since)

    def _model_ready(self) -> bool:
        return self.model is not None and self.model.sigma is not None

    def _model_detect(self, data: ScadaData) -> list[Alarm]:
        if self.model is None or not self._model_ready():
            return []
        try:
            return self.model.detect(data)
        except (SimulationError, ModelError, ValueError, np.linalg.LinAlgError) as exc:
            warnings.warn(f"hydraulic-model detector skipped: {exc}", stacklevel=3)
            return []

    def detect(self, data: ScadaData) -> list[Alarm]:
        flow = self.flow.detect(data) if self.flow.zones else []
        press = self.pressure.detect(data) if self.pressure.model.model is not None else []
        model = self._model_detect(data)
        window = pd.Timedelta(hours=self.window_h)
        mwindow = pd.Timedelta(hours=self.model_window_h)
        out = []
        for a in flow:
            near = [p for p in press if abs(p.start - a.start) <= window]
            if near:
                best = max(p.confidence for p in near)
                a = replace(
                    a, confidence=1.0 - (1.0 - a.confidence) * (1.0 - best), method="dma_flow+pressure"
                )
            seen = [m for m in model if abs(m.start - a.start) <= mwindow]
            if seen:
                best = max(m.confidence for m in seen)
                a = replace(
                    a, confidence=1.0 - (1.0 - a.confidence) * (1.0 - best), method=a.method + "+model"
                )
            if a.method == self.flow.name and _below_slack(a):
                # uncorroborated, and smaller than the smallest shift the CUSUM is built for (the
                # one alarm on the leak-free dev scenarios: 0.13 L/s against a 0.3 L/s slack)
                continue
            out.append(a)
        if not self.flow.zones:
            out.extend(press)
        if self.model_alarms:
            out.extend(m for m in model if not any(abs(m.start - a.start) <= mwindow for a in flow))
        return sorted(out, key=lambda a: a.start)


def _below_slack(alarm: Alarm) -> bool:
    """A flow alarm whose whole tracked rise stays under the CUSUM slack: a transient, not a leak."""
    slack = alarm.signature.get("slack_lps")
    total = alarm.signature.get("final_size_lps", alarm.size_lps)
    return slack is not None and total < slack
