"""What every leak detector shares: the alarm record, the detector protocol, CUSUM and ridge regression.

Detectors are fitted on a calibration period and then run as pure functions over SI telemetry
frames (:class:`~tirta.telemetry.battledim.ScadaData`), so the same code serves files, a notebook,
a Dask worker and the live pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from tirta.errors import InputError
from tirta.network.model import Network
from tirta.telemetry.battledim import ScadaData

__all__ = [
    "Alarm",
    "Change",
    "Detector",
    "confidence",
    "cusum",
    "demand_features",
    "ridge_fit",
]


@dataclass(frozen=True)
class Alarm:
    """A suspected leak: when it started (back-dated change point), when it was raised, its size.

    ``size_lps`` is the size estimate at ``detected_at`` in L/s (incipient leaks keep growing);
    ``confidence`` is in [0, 1]; ``zone`` names the metered zone when the method knows it;
    ``settled_at`` is when a growing leak stopped growing, as far as the data shows;
    ``signature`` holds per-sensor evidence (e.g. pressure residual change, m) for localisation.
    """

    method: str
    start: pd.Timestamp
    detected_at: pd.Timestamp
    size_lps: float
    confidence: float
    zone: str | None = None
    settled_at: pd.Timestamp | None = None
    signature: dict[str, float] = field(default_factory=dict, compare=False)


@runtime_checkable
class Detector(Protocol):
    """A leak detection method: calibrate once, then map a telemetry window to alarms."""

    name: str

    def fit(self, train: ScadaData, network: Network, *, exclude: np.ndarray | None = None) -> Detector:
        """Learn leak-free behaviour from a calibration period (``exclude``: rows with known leaks)."""
        ...

    def detect(self, data: ScadaData) -> list[Alarm]:
        """Alarms for new leaks in ``data`` (same sensors as the calibration period)."""
        ...


@dataclass(frozen=True)
class Change:
    """A change found by :func:`cusum`: positions in the series and the levels around it."""

    up: bool
    start: int  # first sample of the new level (the back-dated change point)
    detected: int  # sample at which the statistic crossed the threshold
    before: float
    after: float


def confidence(step: float, k: float) -> float:
    """How sure an alarm is, in [0, 1]: a step of 2k gives 0.5. A step estimated at zero or below (the
    means around a noisy change point can cross) gives 0, never a ratio above 1."""
    x = max(float(step), 0.0)
    return x / (x + 2.0 * k) if x + 2.0 * k > 0 else 0.0


def cusum(
    x: np.ndarray, k: float, h: float, *, reference: float = 0.0, settle: int = 12
) -> list[Change]:
    """Two-sided CUSUM with re-referencing: after each change the level found becomes the reference.

    ``k`` is the slack and ``h`` the threshold, both in the units of ``x``; NaNs are skipped. The
    change point is the maximum-likelihood step position since the statistic last left zero; the
    new level is the mean from there to ``settle`` samples after the detection.
    """
    out: list[Change] = []
    mu = reference
    s_up = s_dn = 0.0
    z_up = z_dn = 0
    values = np.asarray(x, dtype=float)
    n = len(values)
    t = 0
    while t < n:
        v = values[t]
        if v != v:  # NaN
            t += 1
            continue
        d = v - mu
        s_up = max(0.0, s_up + d - k)
        s_dn = max(0.0, s_dn - d - k)
        if s_up == 0.0:
            z_up = t + 1
        if s_dn == 0.0:
            z_dn = t + 1
        if s_up > h or s_dn > h:
            up = s_up > h
            first = min(z_up if up else z_dn, t)
            start = first + _step_position(values[first : t + 1] - mu, up)
            end = min(t + 1 + settle, n)
            seg = values[start:end]
            new = float(np.nanmean(seg)) if np.isfinite(seg).any() else mu
            out.append(Change(up, start, t, mu, new))
            mu = new
            s_up = s_dn = 0.0
            t = end
            z_up = z_dn = t
            continue
        t += 1
    return out


def _step_position(dev: np.ndarray, up: bool) -> int:
    """Maximum-likelihood position of a step in ``dev`` (deviations from the old level)."""
    v = np.nan_to_num(dev if up else -dev)
    tail = np.cumsum(v[::-1])[::-1]  # sum from i to the end
    count = np.arange(len(v), 0, -1)
    score = np.where(tail > 0, tail**2 / count, -np.inf)
    return int(np.argmax(score))


def ridge_fit(
    x: np.ndarray, y: np.ndarray, lam: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ridge regression on standardised columns; returns (mean, scale, coefficients incl. intercept)."""
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    z = np.c_[(x - mean) / scale, np.ones(len(x))]
    penalty = lam * np.eye(z.shape[1])
    penalty[-1, -1] = 0.0
    coef = np.linalg.solve(z.T @ z + penalty, z.T @ y)
    return mean, scale, coef


def ridge_predict(model: tuple[np.ndarray, np.ndarray, np.ndarray], x: np.ndarray) -> np.ndarray:
    mean, scale, coef = model
    return np.asarray(np.c_[(x - mean) / scale, np.ones(len(x))] @ coef)


def demand_features(data: ScadaData, amrs: list[str]) -> np.ndarray:
    """Regressors of leak-free consumption: AMR demands (L/s), their total and its square.

    Without AMR meters, hour-of-day and weekend indicators stand in (a weekday-aware profile).
    """
    index = pd.DatetimeIndex(data.index)
    if amrs:
        a = data.demand[amrs].to_numpy(dtype=float) * 1000.0
        a = np.nan_to_num(a, nan=np.nanmean(a) if np.isfinite(a).any() else 0.0)
        total = a.sum(axis=1, keepdims=True)
        return np.c_[a, total**2 / max(float(np.mean(total)), 1e-9)]
    hours = np.eye(24)[index.hour.to_numpy()]
    weekend = (index.day_of_week.to_numpy() >= 5).astype(float)[:, None]
    return np.c_[hours, hours * weekend]


def check_columns(frame: pd.DataFrame, wanted: list[str], kind: str) -> None:
    """Raise :class:`InputError` when a calibrated sensor is missing from new telemetry."""
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise InputError(f"{kind} sensor '{missing[0]}' seen in calibration is missing", field=kind)
