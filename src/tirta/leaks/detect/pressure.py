"""Pressure-sensor regression: each pressure predicted from consumption and the other sensors.

Stage one predicts every pressure (m) from the AMR demands, tank levels and pump flows, learned on
a leak-free (or leak-masked) calibration period; stage two removes the common modes the sensors
share (day-to-day demand level, source heads), so what is left is local. A leak shifts that residual
vector; a CUSUM on its hourly norm catches abrupt steps and slowly growing (incipient) leaks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tirta.leaks.detect.base import (
    Alarm,
    check_columns,
    confidence,
    cusum,
    demand_features,
    ridge_fit,
    ridge_predict,
)
from tirta.network.model import Network
from tirta.telemetry.battledim import ScadaData

__all__ = ["PressureDetector", "PressureModel"]


@dataclass
class PressureModel:
    """Leak-free pressure at each sensor from AMR demands, tank levels and pump flows (ridge)."""

    ridge: float = 1.0
    modes: int = 2  # common modes removed (stage two)
    sensors: list[str] = field(default_factory=list)
    amrs: list[str] = field(default_factory=list)
    levels: list[str] = field(default_factory=list)
    pumps: list[str] = field(default_factory=list)
    model: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    nuisance: np.ndarray | None = None  # sensors × modes, unit columns
    sigma_h: np.ndarray | None = None  # std of hourly residual per sensor after stage two, m

    def _features(self, data: ScadaData) -> np.ndarray:
        x = demand_features(data, self.amrs)
        extra = [data.level[c].to_numpy(dtype=float) for c in self.levels]
        extra += [data.flow[c].to_numpy(dtype=float) * 1000.0 for c in self.pumps]
        if extra:
            x = np.c_[x, np.column_stack(extra)]
        return np.nan_to_num(x, nan=0.0)

    def fit(
        self, train: ScadaData, network: Network, *, exclude: np.ndarray | None = None
    ) -> PressureModel:
        self.sensors = list(train.pressure.columns)
        self.amrs = list(train.demand.columns)
        self.levels = list(train.level.columns)
        pumps = set(network.links.index[network.links["type"] == "Pump"])
        self.pumps = [c for c in train.flow.columns if c in pumps]
        x = self._features(train)
        y = train.pressure.to_numpy(dtype=float)
        ok = np.isfinite(y).all(axis=1)
        if exclude is not None:
            ok &= ~np.asarray(exclude, dtype=bool)
        self.model = ridge_fit(x[ok], y[ok], self.ridge)
        resid = pd.DataFrame(y - ridge_predict(self.model, x), index=train.pressure.index)
        resid[~ok] = np.nan
        hourly = resid.resample("1h").mean().dropna()
        centred = hourly.to_numpy() - hourly.to_numpy().mean(axis=0)
        ones = np.ones((len(self.sensors), 1)) / np.sqrt(len(self.sensors))
        centred = centred - (centred @ ones) @ ones.T
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        self.nuisance = vt[: self.modes].T
        local = self.project(hourly.to_numpy())
        self.sigma_h = np.maximum(local.std(axis=0), 1e-3)
        return self

    def residuals(self, data: ScadaData) -> pd.DataFrame:
        """Measured minus predicted pressure (m), one column per sensor."""
        assert self.model is not None, "fit the model first"
        check_columns(data.pressure, self.sensors, "pressure")
        y = data.pressure[self.sensors].to_numpy(dtype=float)
        pred = ridge_predict(self.model, self._features(data))
        return pd.DataFrame(y - pred, index=data.pressure.index, columns=self.sensors)

    def basis(self) -> np.ndarray:
        """Nuisance directions (sensors × k): a common offset and the learned common modes."""
        ones = np.ones((len(self.sensors), 1))
        return ones if self.nuisance is None else np.c_[ones, self.nuisance]

    def project(self, values: np.ndarray) -> np.ndarray:
        """Remove the nuisance directions from rows of sensor values."""
        n = self.basis()
        return np.asarray(values - (values @ np.linalg.pinv(n).T) @ n.T)


@dataclass
class PressureDetector:
    """CUSUM on the hourly norm of the local pressure residual (in units of its calibration σ)."""

    k: float = 0.5
    h: float = 8.0
    name: str = "pressure_regression"
    model: PressureModel = field(default_factory=PressureModel)
    baseline: float = 0.0
    spread: float = 1.0

    def fit(
        self, train: ScadaData, network: Network, *, exclude: np.ndarray | None = None
    ) -> PressureDetector:
        self.model.fit(train, network, exclude=exclude)
        stat = self.statistic(train, exclude=exclude).dropna()
        self.baseline = float(np.median(stat))
        self.spread = float(max(1.4826 * np.median(np.abs(stat - self.baseline)), 1e-6))
        return self

    def statistic(self, data: ScadaData, *, exclude: np.ndarray | None = None) -> pd.Series:
        """Hourly RMS of the local residual, in units of each sensor's calibration σ."""
        resid = self.model.residuals(data)
        if exclude is not None:
            resid[np.asarray(exclude, dtype=bool)] = np.nan
        hourly = resid.resample("1h").mean()
        assert self.model.sigma_h is not None
        # a missing sensor (gap, stuck) counts as on prediction rather than blinding the others
        local = self.model.project(np.nan_to_num(hourly.to_numpy())) / self.model.sigma_h
        return pd.Series(np.sqrt(np.mean(local**2, axis=1)), index=hourly.index)

    def detect(self, data: ScadaData) -> list[Alarm]:
        stat = self.statistic(data)
        z = (stat.to_numpy() - self.baseline) / self.spread
        alarms = []
        for ch in cusum(z, self.k, self.h, settle=3):
            if not ch.up:
                continue
            size = ch.after - ch.before
            alarms.append(
                Alarm(
                    method=self.name,
                    start=stat.index[ch.start],
                    detected_at=stat.index[ch.detected] + pd.Timedelta(hours=1),
                    size_lps=float("nan"),  # a pressure shift has no flow scale of its own
                    confidence=confidence(size, self.k),
                )
            )
        return alarms
