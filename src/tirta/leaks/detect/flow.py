"""DMA-flow detection: zone inflow against a learned leak-free baseline, with CUSUM change detection.

The baseline predicts each metered zone's inflow from the AMR customer meters (or, without them, a
weekday-aware time-of-day profile), learned on the calibration period. A leak adds its flow to the
residual; a CUSUM finds the step (abrupt) or the growth (incipient) and back-dates it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tirta.leaks.detect.base import (
    Alarm,
    Change,
    check_columns,
    confidence,
    cusum,
    demand_features,
    ridge_fit,
    ridge_predict,
)
from tirta.leaks.zones import Zone, metered_zones, zone_inflow
from tirta.network.model import Network
from tirta.telemetry.battledim import ScadaData

__all__ = ["FlowDetector", "night_flow"]


@dataclass
class _ZoneModel:
    zone: Zone
    model: tuple[np.ndarray, np.ndarray, np.ndarray]
    profile: np.ndarray  # mean residual (L/s) by weekend flag × hour of day
    sigma_lps: float  # robust σ of the residual's block means
    block: int  # samples averaged before the CUSUM (tank zones: the level window)


@dataclass
class _Track:
    """A leak followed through the re-referenced CUSUM steps of its growth (sample positions)."""

    zone: str
    k: float
    start: int
    raised: int
    detected: int
    settled: int | None
    size: float
    first: float


@dataclass
class FlowDetector:
    """Inflow-residual CUSUM per metered zone; ``k`` and ``h`` in multiples of the residual σ.

    ``min_lps`` floors the slack so that a quiet zone does not alarm on tiny drifts.
    """

    k: float = 1.0
    h: float = 12.0
    min_lps: float = 0.3
    confirm_tank_h: float = 0.0
    growth_gap_h: float = 24.0  # a further rise this soon after the last one is the same leak growing
    new_leak: float = 2.5  # ... unless it is this many slacks big
    k_tank: float = 2.5
    tank_min_days: float = 7.0
    tank_block: int = 12  # zones closed by a tank level: CUSUM on means over the level window
    ridge: float = 1.0
    name: str = "dma_flow"
    zones: list[_ZoneModel] = field(default_factory=list)
    amrs: list[str] = field(default_factory=list)
    reference: dict[str, float] = field(default_factory=dict)  # residual level of known open leaks
    # zone and start of every change (up or down) and of every repair-sized fall the last
    # ``detect`` found: the localisation windows of its alarms are cut at them
    changes: list[tuple[str, pd.Timestamp]] = field(default_factory=list)
    falls: list[tuple[str, pd.Timestamp]] = field(default_factory=list)

    def fit(
        self, train: ScadaData, network: Network, *, exclude: np.ndarray | None = None
    ) -> FlowDetector:
        self.amrs = list(train.demand.columns)
        flows = list(train.flow.columns)
        levels = list(train.level.columns)
        x = demand_features(train, self.amrs)
        self.zones = []
        for zone in metered_zones(network, flows, levels):
            y = zone_inflow(zone, train).to_numpy() * 1000.0
            ok = np.isfinite(y) & np.isfinite(x).all(axis=1)
            if exclude is not None:
                ok &= ~np.asarray(exclude, dtype=bool)
            days = ok.sum() * _step_s(train.flow.index) / 86400.0
            if ok.sum() < 48 or (zone.tanks and days < self.tank_min_days):
                continue  # a tank balance needs a full week to learn its weekday-aware profile
            model = ridge_fit(x[ok], y[ok], self.ridge)
            resid = y[ok] - ridge_predict(model, x[ok])
            slot = _slots(train.flow.index)[ok]
            profile = np.zeros(48)
            for b in np.unique(slot):
                profile[b] = float(np.median(resid[slot == b]))
            if not (slot >= 24).any():  # no weekend in training: share the weekday profile
                profile[24:] = profile[:24]
            resid = resid - profile[slot]
            block = self.tank_block if zone.tanks else 1
            means = _blocks(resid, block)
            sigma = float(1.4826 * np.median(np.abs(means - np.median(means))))
            self.zones.append(_ZoneModel(zone, model, profile, max(sigma, 1e-3), block))
        return self

    def set_reference(
        self, recent: ScadaData, hours: float = 24.0, since: pd.Timestamp | None = None
    ) -> None:
        """Take the residual level of the last ``hours`` of ``recent`` (not before ``since``, when the
        last known leak still open began) as the normal level: known leaks raise no new alarm."""
        resid = self.residuals(recent)
        t0 = resid.index[-1] - pd.Timedelta(hours=hours)
        if since is not None:
            t0 = max(t0, since)
        tail = resid[resid.index >= t0]
        self.reference = {c: float(np.nanmean(tail[c])) for c in tail.columns}

    def residuals(self, data: ScadaData) -> pd.DataFrame:
        """Inflow residual (L/s) of each zone: measured minus leak-free baseline."""
        check_columns(data.demand, self.amrs, "demand")
        x = demand_features(data, self.amrs)
        cols = {}
        slot = _slots(data.flow.index)
        for zm in self.zones:
            y = zone_inflow(zm.zone, data).to_numpy() * 1000.0
            cols[zm.zone.name] = y - ridge_predict(zm.model, x) - zm.profile[slot]
        return pd.DataFrame(cols, index=data.flow.index)

    def detect(self, data: ScadaData) -> list[Alarm]:
        resid = self.residuals(data)
        index = resid.index
        step_s = _step_s(index)
        alarms: list[Alarm] = []
        tracks: list[_Track] = []
        self.falls = []
        self.changes = []
        growth = round(self.growth_gap_h * 3600 / step_s)
        for zm in self.zones:
            k = max((self.k_tank if zm.zone.tanks else self.k) * zm.sigma_lps, self.min_lps)
            h = self.h * zm.sigma_lps
            # tank balances smear pump switching over the level window: confirm that a step persists
            confirm = round(self.confirm_tank_h * 3600 / step_s) if zm.zone.tanks else 0
            b = zm.block
            changes = [
                Change(c.up, c.start * b, (c.detected + 1) * b - 1, c.before, c.after)
                for c in cusum(
                    _blocks(resid[zm.zone.name].to_numpy(), b),
                    k,
                    h,
                    reference=self.reference.get(zm.zone.name, 0.0),
                    settle=max(12 // b, 1),
                )
            ]
            last: _Track | None = None  # the leak being tracked while it grows
            for i, ch in enumerate(changes):
                self.changes.append((zm.zone.name, index[ch.start]))
                if not ch.up:
                    if ch.before - ch.after >= self.new_leak * k:  # a repair, not noise
                        self.falls.append((zm.zone.name, index[ch.start]))
                    # a big fall is a repair; a small one is a large leak's flow breathing with pressure
                    if last is None or ch.before - ch.after >= 0.5 * last.size:
                        last = None
                    else:
                        last.detected = ch.detected
                        last.size += ch.after - ch.before
                    continue
                nxt = changes[i + 1] if i + 1 < len(changes) else None
                if confirm and nxt is not None and not nxt.up and nxt.detected - ch.detected <= confirm:
                    continue  # a transient: it went back down before it was confirmed
                size = ch.after - ch.before
                if last is not None and ch.start - last.detected <= growth and size < self.new_leak * k:
                    last.detected = last.settled = ch.detected  # the tracked leak is still growing
                    last.size += size
                    continue
                raised = min(ch.detected + confirm, len(index) - 1)
                last = _Track(zm.zone.name, k, ch.start, raised, ch.detected, None, size, size)
                tracks.append(last)
        for tr in tracks:
            alarms.append(
                Alarm(
                    method=self.name,
                    start=index[tr.start],
                    detected_at=index[tr.raised],
                    size_lps=tr.first,
                    confidence=confidence(tr.first, tr.k),
                    zone=tr.zone,
                    settled_at=index[tr.settled] if tr.settled is not None else None,
                    signature={"final_size_lps": tr.size, "slack_lps": tr.k},
                )
            )
        return alarms


def _step_s(index: pd.Index) -> float:
    """Typical sampling interval (s) of a time index; 300 s when it cannot tell."""
    if len(index) < 2:
        return 300.0
    return float(pd.Series(index).diff().dt.total_seconds().median())


def _blocks(values: np.ndarray, size: int) -> np.ndarray:
    """Means of consecutive blocks of ``size`` samples (NaN-aware; a partial last block is dropped)."""
    v = np.asarray(values, dtype=float)
    if size <= 1:
        return v
    n = len(v) // size
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN block is NaN, and that is fine
        return np.asarray(np.nanmean(v[: n * size].reshape(n, size), axis=1))


def _slots(index: pd.Index) -> np.ndarray:
    """Weekday-aware time-of-day slot of each sample: hour + 24 on weekends."""
    idx = pd.DatetimeIndex(index)
    return np.asarray(idx.hour + 24 * (idx.day_of_week >= 5), dtype=int)


def night_flow(inflow_lps: pd.Series, hours: tuple[int, int] = (2, 5)) -> pd.Series:
    """Minimum night flow per day (L/s): the lowest hourly mean between ``hours`` (UTC)."""
    hourly = inflow_lps.resample("1h").mean()
    night = hourly[(hourly.index.hour >= hours[0]) & (hourly.index.hour < hours[1])]
    return night.resample("1D").min().dropna()
