"""Hydrant-test style capacity: the largest extra demand a node takes while it keeps a residual pressure.

The network state at the chosen hour (tank levels) comes from one extended-period run of the day; the
search then re-solves single periods on the same open EPANET project, demand-driven, adding the extra
demand at the node, until the flow is known to within the tolerance (1 % by default).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tirta.errors import InputError, SimulationError
from tirta.hydraulics.engine import Engine
from tirta.network.model import Network

__all__ = [
    "Capacity",
    "DayState",
    "capacity",
    "capacity_naive",
    "capacity_on",
    "day_state",
    "find_capacity",
]

DAY_S = 86_400
_HW_EXPONENT = 1.852  # p0 - p(Q) grows roughly like Q^1.852 (Hazen-Williams): the secant's model
_MAX_TRIALS = 60


@dataclass(frozen=True)
class DayState:
    """The simulated day seen hourly: total junction demand (m³/s) and tank levels (m) per hour."""

    total_demand_m3s: np.ndarray  # shape (25,): mean of hours 0…23, then the demand at 24:00
    tank_levels_m: dict[str, np.ndarray]

    @property
    def peak_hour(self) -> int:
        """The hour (0–23) with the highest total demand."""
        return int(np.argmax(self.total_demand_m3s[:24]))


@dataclass(frozen=True)
class Capacity:
    """Result of a capacity query; flows m³/s, pressures m."""

    node: str
    hour: int
    residual_m: float
    extra_demand_m3s: float  # largest extra demand found with the node's pressure ≥ residual
    pressure_m: float  # the node's pressure at that demand
    static_pressure_m: float  # the node's pressure without extra demand
    upper_m3s: float  # smallest extra demand tried that broke the residual (bracket top)
    trials: int

    @property
    def extra_demand_lps(self) -> float:
        return 1000.0 * self.extra_demand_m3s

    def as_dict(self) -> dict[str, object]:
        """The JSON shape of ``tirta plan capacity``."""
        return {
            "node": self.node,
            "hour": self.hour,
            "extra_demand_lps": round(self.extra_demand_lps, 4),
            "pressure_m": round(self.pressure_m, 4),
            "residual_m": self.residual_m,
            "static_pressure_m": round(self.static_pressure_m, 4),
            "upper_bound_lps": round(1000.0 * self.upper_m3s, 4),
            "trials": self.trials,
        }


def day_state(engine: Engine) -> DayState:
    """Run the first day and keep each hour's mean total demand and the tank levels on the hour.

    Demand is sampled at the pattern step where it divides the hour (L-Town: 5 min), else hourly.
    """
    step = (
        engine.pattern_step_s
        if 0 < engine.pattern_step_s < 3600 and 3600 % engine.pattern_step_s == 0
        else 3600
    )
    res = engine.run(DAY_S, report_step_s=step, quantities=("demand", "level"))
    junctions = [n for n in engine.junction_ids if n in res.demand_m3s.columns]
    total = res.demand_m3s[junctions].clip(lower=0.0).sum(axis=1).to_numpy()
    per_hour = 3600 // step
    hourly = total[:-1].reshape(24, per_hour).mean(axis=1) if per_hour > 1 else total[:24]
    hourly = np.append(hourly, total[-1])  # hour 24: the end of the day
    levels = {t: res.level_m[t].to_numpy()[::per_hour] for t in engine.tank_ids}
    return DayState(hourly, levels)


def _check_query(engine: Engine, node: str, residual_m: float, hour: int) -> None:
    if node not in engine.junction_ids:
        kind = "a tank or reservoir" if node in engine.node_ids else "not in the network"
        raise InputError(
            f"node '{node}' is {kind}; capacity needs a junction", file=engine.path, field="node"
        )
    if not 0 <= hour <= 24:
        raise InputError(f"hour must be within 0–24, got {hour}", field="hour")
    if residual_m < 0 or not math.isfinite(residual_m):
        raise InputError(f"residual pressure must be ≥ 0 m, got {residual_m}", field="residual")


class _Probe:
    """Pressure at one node for a given extra demand, on an engine positioned at one hour."""

    def __init__(self, engine: Engine, node: str, hour: int, state: DayState) -> None:
        self.engine = engine
        self.node = node
        self.time_s = hour * 3600
        self._saved = {t: engine.tank_level(t) for t in engine.tank_ids}
        for tank, levels in state.tank_levels_m.items():
            engine.set_tank_level(tank, float(levels[hour]))
        self._pos = engine.node_ids.index(node)
        engine.add_demand(node, 0.0)
        self._category = len(engine.demand_patterns(node))
        self._scale = 1.0 / engine.demand_multiplier()
        self.trials = 0

    def pressure(self, extra_m3s: float) -> float:
        self.engine.set_base_demand(self.node, extra_m3s * self._scale, category=self._category)
        self.trials += 1
        with warnings.catch_warnings():  # far past capacity EPANET warns of negative pressures
            warnings.simplefilter("ignore")
            try:
                return float(self.engine.solve_snapshot(self.time_s).pressure_m[self._pos])
            except Exception:  # EPANET cannot solve at all: certainly past the capacity
                if extra_m3s == 0.0:
                    raise
                return -math.inf

    def restore(self) -> None:
        self.engine.set_base_demand(self.node, 0.0, category=self._category)
        for tank, level in self._saved.items():
            self.engine.set_tank_level(tank, level)


def _power_root(q1: float, p1: float, q2: float, p2: float, target: float) -> float:
    """Where p = a − k·Q^n through (q1, p1) and (q2, p2) reaches ``target``."""
    n = _HW_EXPONENT
    x1, x2 = q1**n, q2**n
    if x2 == x1 or p1 == p2:
        return 0.5 * (q1 + q2)
    k = (p1 - p2) / (x2 - x1)
    a = p1 + k * x1
    if k <= 0 or a <= target:
        return 0.5 * (q1 + q2)
    return float(((a - target) / k) ** (1.0 / n))


def find_capacity(
    pressure: Callable[[float], float],
    residual_m: float,
    *,
    rel_tol: float = 0.002,
    first_m3s: float = 0.01,
) -> tuple[float, float, float, float]:
    """Largest Q with ``pressure(Q) ≥ residual_m`` to within ``rel_tol`` (bracket width over Q).

    Safeguarded secant on p = a − k·Q^1.852, closing the bracket from both sides; returns
    (Q, p(Q), static pressure p(0), bracket top). Pressures are assumed to fall as Q grows.
    """
    p0 = pressure(0.0)
    if p0 < residual_m:
        return 0.0, p0, p0, 0.0
    lo, p_lo = 0.0, p0
    hi, p_hi = math.inf, -math.inf
    q = first_m3s
    for _ in range(_MAX_TRIALS):
        p = pressure(q)
        if p >= residual_m:
            lo, p_lo = q, p
        else:
            hi, p_hi = q, p
        if math.isfinite(hi) and hi - lo <= rel_tol * hi:
            break
        if not math.isfinite(hi):  # no bracket yet: extrapolate from the two best points, at least ×2
            guess = _power_root(0.0, p0, lo, p_lo, residual_m) if lo > 0 else q * 4.0
            q = max(guess * 1.05, 2.0 * lo, q * 2.0) if lo > 0 else guess
            continue
        guess = _power_root(lo, p_lo, hi, p_hi, residual_m)
        width = hi - lo
        if not lo + 0.05 * width < guess < hi - 0.05 * width:
            guess = min(max(guess, lo + 0.05 * width), hi - 0.05 * width)
        # step just past the estimate on the side that closes the bracket fastest
        nudge = 0.4 * rel_tol * guess
        q = guess - nudge if guess - lo > hi - guess else guess + nudge
        if not lo < q < hi:
            q = 0.5 * (lo + hi)
    if not (math.isfinite(hi) and hi - lo <= rel_tol * hi):
        raise SimulationError(
            f"capacity search did not close in on the residual pressure within {_MAX_TRIALS} solves "
            f"(bracket {lo:.6g}–{hi:.6g} m³/s)"
        )
    return lo, p_lo, p0, hi


def capacity(
    model: str | Path | Network,
    node: str,
    *,
    residual_m: float = 10.0,
    hour: int | None = None,
    rel_tol: float = 0.002,
) -> Capacity:
    """Capacity of ``node`` at ``hour`` (default: the peak-demand hour), one EPANET project throughout."""
    with Engine(model, warm_start=True) as engine:
        engine.set_demand_model(None)
        return capacity_on(engine, node, residual_m=residual_m, hour=hour, rel_tol=rel_tol)


def capacity_on(
    engine: Engine,
    node: str,
    *,
    residual_m: float = 10.0,
    hour: int | None = None,
    rel_tol: float = 0.002,
    state: DayState | None = None,
) -> Capacity:
    """:func:`capacity` on an open engine (left as found); ``state`` reuses an earlier day run."""
    _check_query(engine, node, residual_m, 0 if hour is None else hour)
    state = state or day_state(engine)
    h = state.peak_hour if hour is None else hour
    probe = _Probe(engine, node, h, state)
    try:
        q, p, p0, top = find_capacity(probe.pressure, residual_m, rel_tol=rel_tol)
    finally:
        probe.restore()
    return Capacity(node, h, residual_m, q, p, p0, top, probe.trials)


def capacity_naive(
    model: str | Path,
    node: str,
    *,
    residual_m: float = 10.0,
    hour: int | None = None,
    rel_tol: float = 0.01,
) -> Capacity:
    """Baseline for the benchmark: plain bisection that opens EPANET afresh for every trial."""
    with Engine(model) as engine:
        engine.set_demand_model(None)
        _check_query(engine, node, residual_m, 0 if hour is None else hour)
        state = day_state(engine)
    h = state.peak_hour if hour is None else hour
    trials = 0

    def pressure(q: float) -> float:
        nonlocal trials
        trials += 1
        with Engine(model) as eng:
            eng.set_demand_model(None)
            probe = _Probe(eng, node, h, state)
            return probe.pressure(q)

    p0 = pressure(0.0)
    if p0 < residual_m:
        return Capacity(node, h, residual_m, 0.0, p0, p0, 0.0, trials)
    lo, p_lo, hi = 0.0, p0, 0.001
    while (p := pressure(hi)) >= residual_m:
        lo, p_lo, hi = hi, p, hi * 2.0
    while hi - lo > rel_tol * hi:
        mid = 0.5 * (lo + hi)
        if (p := pressure(mid)) >= residual_m:
            lo, p_lo = mid, p
        else:
            hi = mid
    return Capacity(node, h, residual_m, lo, p_lo, p0, hi, trials)
