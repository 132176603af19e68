"""Model-based detection: measured pressures against the hydraulic model driven by the measurements.

Every hour the EPANET model is solved with the zone consumptions the flow meters and tank levels
measure (spread over the nodes by demand category, the split read from the AMR meters), the AMR
nodes at their metered demand, metered pumps replaced by their measured flow and tanks pinned at
their measured levels. A leak takes water the model spreads over the whole zone, so the pressures
near it fall below the model; a CUSUM on the normalised residuals finds the step and back-dates it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tirta.hydraulics.engine import Engine
from tirta.leaks.detect.base import Alarm, check_columns, confidence, cusum
from tirta.leaks.zones import Zone, metered_zones
from tirta.network.model import Network
from tirta.telemetry.battledim import ScadaData

__all__ = ["ModelDetector", "model_pressures"]


@dataclass(frozen=True)
class _Inputs:
    """Hourly model inputs (SI): AMR demands, zone scales per category, pump flows, tank levels."""

    index: pd.DatetimeIndex
    amr: pd.DataFrame  # hours × AMR nodes, m³/s (gaps filled from the category split)
    scale: dict[str, np.ndarray]  # pattern id → multipliers of the model's base demands per hour
    pumps: pd.DataFrame  # hours × metered pumps, m³/s
    levels: pd.DataFrame  # hours × metered tanks, m


def _hourly(frame: pd.DataFrame, step: str) -> pd.DataFrame:
    if not isinstance(frame.index, pd.DatetimeIndex):  # no sensor of this kind: no rows either
        return pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC"), columns=frame.columns, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return frame.resample(step).mean()


def _base_demands(eng: Engine) -> tuple[list[str], list[str], np.ndarray]:
    """Junctions, demand pattern ids and base demands (junctions × patterns, m³/s), as EPANET
    runs them: a demand without a pattern of its own follows the model's default pattern."""
    nodes = [n for n in eng.junction_ids if not n.endswith("__leak")]
    table = {n: eng.demands(n) for n in nodes}
    patterns = sorted({p for cats in table.values() for _, p in cats})
    col = {p: i for i, p in enumerate(patterns)}
    base = np.zeros((len(nodes), len(patterns)))
    for i, n in enumerate(nodes):
        for value, p in table[n]:
            base[i, col[p]] += value
    return nodes, patterns, base


def _model_inputs(
    network: Network, eng: Engine, data: ScadaData, zones: list[Zone], amrs: list[str], step: str
) -> _Inputs:
    """Zone consumption per hour from the meters, split over the nodes like the AMR meters say."""
    nodes, patterns, base = _base_demands(eng)
    row = {n: i for i, n in enumerate(nodes)}
    index = pd.DatetimeIndex(pd.Series(0.0, index=data.index).resample(step).mean().index)
    flow = _hourly(data.flow, step).reindex(index)
    dt = float((index[1] - index[0]).total_seconds()) if len(index) > 1 else 3600.0
    level = _hourly(data.level, step).reindex(index)
    amr = _hourly(data.demand[amrs], step).reindex(index) if amrs else pd.DataFrame(index=index)
    b_amr = base[[row[a] for a in amrs]] if amrs else np.zeros((0, len(patterns)))
    # category multipliers from the AMR meters: ridge towards one common multiplier
    a = amr.to_numpy(dtype=float)
    common = np.nansum(a, axis=1) / max(float(b_amr.sum()), 1e-12) if amrs else np.ones(len(index))
    prior = np.repeat(common[:, None], len(patterns), axis=1)
    if amrs:
        pred = prior @ b_amr.T
        dev = np.where(np.isfinite(a), a - pred, 0.0)
        gram = b_amr.T @ b_amr
        lam = 0.1 * np.trace(gram) / len(patterns)
        mult = prior + dev @ b_amr @ np.linalg.inv(gram + lam * np.eye(len(patterns)))
        mult = np.maximum(mult, 0.0)
        amr = amr.fillna(pd.DataFrame(mult @ b_amr.T, index=index, columns=amrs))
    else:
        mult = prior
    is_amr = np.zeros(len(nodes), dtype=bool)
    is_amr[[row[n] for n in amrs]] = True
    scale = {p: mult[:, j].copy() for j, p in enumerate(patterns) if p}  # nodes outside zones
    out_scale: dict[str, np.ndarray] = {}
    for zi, zone in enumerate(zones):
        inflow = np.zeros(len(index))
        for link, sign in zone.meters:
            inflow += sign * flow[link].to_numpy(dtype=float)
        for tank, area in zone.tanks:
            lv = level[tank].to_numpy(dtype=float)
            inflow -= area * np.gradient(lv) / dt if len(lv) > 1 else 0.0
        members = np.array([n in zone.nodes for n in nodes])
        free = members & ~is_amr
        metered = np.nansum(a[:, [j for j, n in enumerate(amrs) if n in zone.nodes]], axis=1)
        nominal = mult @ base[free].sum(axis=0)
        s = np.clip((inflow - metered) / np.maximum(nominal, 1e-9), 0.0, 10.0)
        s = np.where(np.isfinite(s), s, 1.0)
        for j, p in enumerate(patterns):
            out_scale[f"{p}@{zi}"] = mult[:, j] * s
    scale.update(out_scale)
    pumps_ids = [
        c
        for c in data.flow.columns
        if c in network.links.index and network.links.at[c, "type"] == "Pump"
    ]
    return _Inputs(index, amr, scale, flow[pumps_ids].fillna(0.0), level.ffill().bfill())


def _setup(eng: Engine, network: Network, inp: _Inputs, zones: list[Zone], amrs: list[str]) -> None:
    """Drive the open model by the hourly inputs: zone patterns, AMR nodes, pumps as fixed flows."""
    nodes = [n for n in eng.junction_ids if not n.endswith("__leak")]
    zone_of = {n: zi for zi, z in enumerate(zones) for n in z.nodes}
    eng.set_controls_enabled(False)
    for key, values in inp.scale.items():
        eng.add_pattern(key, values)
    amr_set = set(amrs)
    for n in nodes:
        cats = eng.demand_patterns(n)
        if n in amr_set:
            eng.add_pattern(f"amr@{n}", inp.amr[n].to_numpy(dtype=float))
            for c in range(1, len(cats) + 1):
                eng.set_base_demand(n, 1.0 if c == 1 else 0.0, category=c)
            if cats:
                eng.set_demand_pattern(n, f"amr@{n}", 1)
            else:
                eng.add_demand(n, 1.0, f"amr@{n}")
            continue
        zi = zone_of.get(n)
        if zi is not None:
            for c, p in enumerate(cats, start=1):
                eng.set_demand_pattern(n, f"{p}@{zi}", c)
    for pump in inp.pumps.columns:
        eng.set_link_status(pump, False)
        eng.add_pattern(f"pump@{pump}", inp.pumps[pump].to_numpy(dtype=float))
        ends = (network.links.at[pump, "start_node"], 1.0), (network.links.at[pump, "end_node"], -1.0)
        for node, sign in ends:
            if network.nodes.at[node, "type"] == "Junction":
                eng.add_demand(node, sign, f"pump@{pump}")


def _set_tanks(eng: Engine, levels: pd.DataFrame, k: int) -> None:
    for tank in levels.columns:
        value = float(levels[tank].iloc[k])
        if np.isfinite(value):
            eng.set_tank_level(str(tank), value)


def model_pressures(
    network: Network,
    data: ScadaData,
    sensors: list[str],
    *,
    amrs: list[str] | None = None,
    step: str = "1h",
) -> pd.DataFrame:
    """Modelled pressure (m) at ``sensors`` per ``step``, the model driven by the measurements."""
    amrs = list(data.demand.columns) if amrs is None else amrs
    zones = metered_zones(network, list(data.flow.columns), list(data.level.columns))
    step_s = int(pd.Timedelta(step).total_seconds())
    with Engine(network, warm_start=True) as eng:
        inp = _model_inputs(network, eng, data, zones, amrs, step)
        out = np.full((len(inp.index), len(sensors)), np.nan)
        eng.set_times(pattern_step_s=step_s)
        _setup(eng, network, inp, zones, amrs)
        sens = np.array([eng.node_index(s) - 1 for s in sensors], dtype=int)
        for k in range(len(inp.index)):
            _set_tanks(eng, inp.levels, k)
            out[k] = eng.solve_snapshot(k * step_s).pressure_m[sens]
    return pd.DataFrame(out, index=inp.index, columns=sensors)


def local_sensitivity(
    network: Network,
    data: ScadaData,
    sensors: list[str],
    nodes: list[str],
    *,
    amrs: list[str] | None = None,
    hour: int = 0,
    probe_m3s: float = 2e-3,
) -> np.ndarray:
    """What the residual of :func:`model_pressures` does per L/s of leak at each node (nodes × sensors, m).

    A leak at a node is seen by the model as extra zone consumption spread over all consumers, so
    the residual is the leak's pressure change minus that of the same flow spread over the zone.
    """
    amrs = list(data.demand.columns) if amrs is None else amrs
    zones = metered_zones(network, list(data.flow.columns), list(data.level.columns))
    out = np.zeros((len(nodes), len(sensors)))
    with Engine(network, warm_start=True) as eng:
        inp = _model_inputs(network, eng, data, zones, amrs, "1h")
        hour = min(max(hour, 0), len(inp.index) - 1)
        eng.set_times(pattern_step_s=3600)
        _setup(eng, network, inp, zones, amrs)
        _set_tanks(eng, inp.levels, hour)
        sens = np.array([eng.node_index(s) - 1 for s in sensors], dtype=int)
        base = eng.solve_snapshot(hour * 3600)
        consumed = float(base.demand_m3s[base.demand_m3s > 0].sum())
        idx = [eng.node_index(n) - 1 for n in nodes]
        raw = np.zeros((len(nodes), len(sensors)))
        weight = np.zeros(len(nodes))
        for i, n in enumerate(nodes):
            coef = probe_m3s / np.sqrt(max(float(base.pressure_m[idx[i]]), 10.0))
            eng.set_emitter(n, coef)
            snap = eng.solve_snapshot(hour * 3600)
            eng.set_emitter(n, 0.0)
            q = float(snap.emitter_m3s[idx[i]])
            if q > 1e-7:
                raw[i] = (snap.pressure_m[sens] - base.pressure_m[sens]) / (q * 1000.0)
            weight[i] = max(float(base.demand_m3s[idx[i]]), 0.0) / max(consumed, 1e-12)
        zone_of = {n: zi for zi, z in enumerate(zones) for n in z.nodes}
        for zi in {zone_of.get(n) for n in nodes}:
            members = np.array([zone_of.get(n) == zi for n in nodes])
            w = weight * members
            spread = (w @ raw) / w.sum() if w.sum() > 0 else raw[members].mean(axis=0)
            out[members] = raw[members] - spread
    return out


def _profile(resid: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median residual and robust σ by hour of day (24 × sensors, m) and the centred residuals.

    The residuals are centred day by day on the profile of the other days, so the σ and the
    statistic's spread are out-of-sample, as they will be on new data.
    """
    values = resid.to_numpy(dtype=float)
    hour = resid.index.hour.to_numpy()
    day = (resid.index.normalize() - resid.index[0].normalize()).days.to_numpy()
    cube = np.full((int(day.max()) + 1, 24, values.shape[1]), np.nan)
    cube[day, hour] = values
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        profile = np.nan_to_num(np.nanmedian(cube, axis=0))
        loo = np.empty_like(cube)
        for d in range(cube.shape[0]):
            others = np.delete(cube, d, axis=0)
            ref = np.nanmedian(others, axis=0) if len(others) else profile
            loo[d] = cube[d] - np.where(np.isfinite(ref), ref, profile)
        centred = loo[day, hour]
        floor = np.maximum(np.nan_to_num(1.4826 * np.nanmedian(np.abs(centred), axis=0), nan=1.0), 2e-3)
        sigma = np.nan_to_num(1.4826 * np.nanmedian(np.abs(loo), axis=0), nan=0.0)
    return profile, np.maximum(sigma, floor), centred


@dataclass
class ModelDetector:
    """CUSUM on the RMS of the hourly model residuals over sensors, each in units of its σ, less the
    ``drop`` largest (one faulty sensor cannot alarm alone); ``k``, ``h`` in the statistic's spread."""

    k: float = 1.0  # tuning seeds, model alone: k 0.5 → 22 false alarms, 1.0 → 8, 1.5 → 5
    h: float = 8.0
    drop: int = 1
    clip: float = 3.0
    settle: int = 6
    cap: float = 10.0
    sample_every: int = 4  # junctions probed for the size sensitivity
    name: str = "hydraulic_model"
    network: Network | None = None
    sensors: list[str] = field(default_factory=list)
    amrs: list[str] = field(default_factory=list)
    profile: np.ndarray | None = None  # hour of day × sensor, m
    sigma: np.ndarray | None = None  # hour of day × sensor, m
    offset: np.ndarray | None = None  # residual level of known open leaks, m
    baseline: float = 0.0  # of the statistic on the calibration period
    spread: float = 1.0
    sensitivity: np.ndarray | None = None  # probed nodes × sensors, m per L/s

    def fit(
        self, train: ScadaData, network: Network, *, exclude: np.ndarray | None = None
    ) -> ModelDetector:
        self.network = network
        self.sensors = list(train.pressure.columns)
        self.amrs = list(train.demand.columns)
        self.offset = None
        resid = self.residuals(train, centred=False)
        if exclude is not None:
            hours = pd.Series(np.asarray(exclude, dtype=bool), index=train.index).resample("1h").max()
            resid[hours.reindex(resid.index).fillna(False).to_numpy(dtype=bool)] = np.nan
        self.profile, self.sigma, centred = _profile(resid)
        hour = resid.index.hour.to_numpy()
        stat = self._stat(centred, hour)
        ok = np.isfinite(stat)
        self.baseline = float(np.median(stat[ok])) if ok.any() else 0.0
        mad = float(1.4826 * np.median(np.abs(stat[ok] - self.baseline))) if ok.any() else 1.0
        self.spread = max(mad, 1e-6)
        junctions = list(network.nodes.index[network.nodes["type"] == "Junction"])
        probe = junctions[:: max(self.sample_every, 1)]
        inflow = np.nan_to_num(_hourly(train.flow, "1h").sum(axis=1).to_numpy())
        busiest = int(np.argmax(inflow)) if len(inflow) else 0  # sensitivity at the peak hour
        self.sensitivity = local_sensitivity(
            network, train, self.sensors, probe, amrs=self.amrs, hour=busiest
        )
        return self

    def set_reference(
        self, recent: ScadaData, hours: float = 24.0, since: pd.Timestamp | None = None
    ) -> None:
        """Take the residual of the last ``hours`` of ``recent`` as normal: known leaks raise no alarm."""
        resid = self.residuals(recent)
        t0 = resid.index[-1] - pd.Timedelta(hours=hours)
        if since is not None:
            t0 = max(t0, since)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            self.offset = np.nan_to_num(np.nanmean(resid[resid.index >= t0].to_numpy(), axis=0))

    def residuals(self, data: ScadaData, *, centred: bool = True) -> pd.DataFrame:
        """Hourly measured minus modelled pressure (m) per sensor, less the learned profile."""
        if self.network is None:
            raise RuntimeError("fit the detector first")
        check_columns(data.pressure, self.sensors, "pressure")
        amrs = [a for a in self.amrs if a in data.demand.columns]  # a lost AMR: the split fills it
        cut = ScadaData(data.pressure[self.sensors], data.flow, data.level, data.demand[amrs])
        model = model_pressures(self.network, cut, self.sensors, amrs=amrs)
        measured = _hourly(data.pressure[self.sensors], "1h").reindex(model.index)
        resid = measured - model
        if centred and self.profile is not None:
            resid = resid - self.profile[resid.index.hour.to_numpy()]
            if self.offset is not None:
                resid = resid - self.offset
        return resid

    def _stat(self, centred: np.ndarray, hour: np.ndarray) -> np.ndarray:
        """Per row: RMS of the normalised residuals without the ``drop`` largest; NaN sensors skipped."""
        assert self.sigma is not None
        z = np.clip(np.abs(centred / self.sigma[hour]), 0.0, self.cap)
        z = np.where(np.isfinite(z), z, np.nan)
        ordered = np.sort(np.where(np.isfinite(z), z, -1.0), axis=1)  # NaN (as −1) first
        keep = ordered[:, : max(ordered.shape[1] - self.drop, 1)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            kept = np.where(keep >= 0, keep, np.nan)
            return np.sqrt(np.nanmean(kept**2, axis=1))

    def statistic(self, data: ScadaData) -> pd.Series:
        """Hourly detection statistic (see class docstring)."""
        resid = self.residuals(data)
        return pd.Series(self._stat(resid.to_numpy(), resid.index.hour.to_numpy()), index=resid.index)

    def detect(self, data: ScadaData) -> list[Alarm]:
        resid = self.residuals(data)
        stat = pd.Series(self._stat(resid.to_numpy(), resid.index.hour.to_numpy()), index=resid.index)
        # clipped: one bad hour (a pump switching mid-hour) cannot raise an alarm on its own
        z = np.clip((stat.to_numpy() - self.baseline) / self.spread, -self.clip, self.clip)
        alarms = []
        for ch in cusum(z, self.k, self.h, settle=self.settle):
            if not ch.up:
                continue
            # the change point: the first hour past half-way from the old level to the new one
            seg = z[ch.start : ch.detected + 1]
            past = np.flatnonzero(seg >= (ch.before + ch.after) / 2.0)
            first = ch.start + (int(past[0]) if len(past) else 0)
            t0, td = stat.index[first], stat.index[ch.detected]
            before = resid[(resid.index >= t0 - pd.Timedelta(hours=24)) & (resid.index < t0)].mean()
            after = resid[(resid.index >= t0) & (resid.index <= td)].mean()
            change = (after - before).fillna(0.0)
            jump = max(ch.after - ch.before, 0.0)
            alarms.append(
                Alarm(
                    method=self.name,
                    start=t0,
                    detected_at=td + pd.Timedelta(hours=1),
                    size_lps=self.size(change.to_numpy()),
                    confidence=confidence(jump, self.k),
                    signature={str(k): float(v) for k, v in change.items()},
                )
            )
        return alarms

    def size(self, change_m: np.ndarray) -> float:
        """Leak size (L/s) that best explains a residual change, over the probed nodes."""
        if self.sensitivity is None or not np.isfinite(change_m).any():
            return float("nan")
        s, d = self.sensitivity, np.nan_to_num(change_m)
        ss = np.einsum("ij,ij->i", s, s)
        a = np.maximum(np.where(ss > 0, s @ d / np.where(ss > 0, ss, 1.0), 0.0), 0.0)
        sse = np.einsum("ij,ij->i", d - a[:, None] * s, d - a[:, None] * s)
        return float(a[int(np.argmin(sse))])
