"""Network extension what-ifs: new connections at nodes or along a new pipe, pressure-driven design day.

The new demand (households × household size × L/person/day × peak factor) follows the diurnal pattern of
the node it joins (or none); the day is run twice on one open project, demand-driven for the demand
wanted and pressure-driven (EPANET 2.3 PDA, full demand at the minimum service pressure) for what is
delivered. A new pipe without a diameter gets the smallest standard one meeting the service pressure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tirta.errors import InputError
from tirta.hydraulics.engine import Engine, Results
from tirta.hydraulics.scenarios import PDA
from tirta.network.model import Network
from tirta.planning.design import STANDARD_DIAMETERS_MM, Connection, DemandDesign, NewPipe

__all__ = ["DayRun", "Extension", "day_run", "extend"]

DAY_S = 86_400
_NEW_ROUGHNESS = {"H-W": 130.0, "D-W": 0.1, "C-M": 0.011}  # new PE/DI pipe, in the model's formula


@dataclass
class DayRun:
    """The simulated day, hourly: pressures, delivered and wanted demand, flows, tank levels (SI)."""

    pressure_m: pd.DataFrame
    delivered_m3s: pd.DataFrame
    wanted_m3s: pd.DataFrame
    flow_m3s: pd.DataFrame
    level_m: pd.DataFrame

    def shortfall_pct(self, nodes: Sequence[str] | None = None) -> float:
        """Demand not delivered over the day, % of the demand wanted (junctions, or ``nodes``)."""
        cols = list(self.wanted_m3s.columns if nodes is None else nodes)
        want = float(self.wanted_m3s[cols].clip(lower=0.0).to_numpy().sum())
        got = float(self.delivered_m3s[cols].clip(lower=0.0).to_numpy().sum())
        return 100.0 * max(want - got, 0.0) / want if want > 0 else 0.0


@dataclass
class Extension:
    """Result of :func:`extend`; pressures m, velocities m/s, flows m³/s."""

    min_pressure_m: float
    critical_node: str
    nodes_below_min: list[str]
    nodes_below_min_before: list[str]
    demand_shortfall_pct: float
    demand_shortfall_pct_before: float
    new_demand_m3s: float
    new_nodes_shortfall_pct: float
    max_velocity_m_s: float
    max_velocity_link: str
    tanks: list[dict[str, object]]
    service_pressure_m: float
    new_pipe: dict[str, object] | None = None
    node_min_pressure_m: dict[str, float] = field(default_factory=dict)

    def as_dict(self, *, with_nodes: bool = False) -> dict[str, object]:
        """The JSON shape of ``tirta plan extend`` (``with_nodes`` adds every junction's minimum)."""
        out: dict[str, object] = {
            "min_pressure_m": round(self.min_pressure_m, 3),
            "critical_node": self.critical_node,
            "service_pressure_m": self.service_pressure_m,
            "nodes_below_min": self.nodes_below_min,
            "nodes_below_min_before": self.nodes_below_min_before,
            "demand_shortfall_pct": round(self.demand_shortfall_pct, 4),
            "demand_shortfall_pct_before": round(self.demand_shortfall_pct_before, 4),
            "new_demand_lps": round(1000.0 * self.new_demand_m3s, 4),
            "new_connections_shortfall_pct": round(self.new_nodes_shortfall_pct, 4),
            "max_velocity_m_s": round(self.max_velocity_m_s, 4),
            "max_velocity_link": self.max_velocity_link,
            "tanks": self.tanks,
            "new_pipe": self.new_pipe,
        }
        if with_nodes:
            out["node_min_pressure_m"] = {k: round(v, 3) for k, v in self.node_min_pressure_m.items()}
        return out


def day_run(engine: Engine, pda: PDA) -> DayRun:
    """Run the first 24 h hourly, demand-driven then pressure-driven (engine left pressure-driven)."""
    engine.set_demand_model(None)
    wanted = engine.run(DAY_S, report_step_s=3600, quantities=("demand",)).demand_m3s
    engine.set_demand_model(pda)
    res: Results = engine.run(
        DAY_S, report_step_s=3600, quantities=("pressure", "demand", "flow", "level")
    )
    junctions = list(engine.junction_ids)
    return DayRun(
        res.pressure_m[junctions],
        res.demand_m3s[junctions],
        wanted[junctions],
        res.flow_m3s,
        res.level_m,
    )


def _junction(engine: Engine, node: str, what: str) -> None:
    if node not in engine.junction_ids:
        kind = "a tank or reservoir" if node in engine.node_ids else "not in the network"
        raise InputError(
            f"node '{node}' is {kind}; {what} needs a junction", file=engine.path, field="node"
        )


def _add_households(engine: Engine, node: str, households: int, design: DemandDesign) -> float:
    """Add the design demand of ``households`` at ``node`` on the node's own pattern; returns m³/s."""
    if households < 0:
        raise InputError(f"must not be negative, got {households}", field="households")
    q = design.demand_m3s(households)
    patterns = [p for p in engine.demand_patterns(node) if p]
    engine.add_demand(node, q / engine.demand_multiplier(), patterns[0] if patterns else "")
    return q


def _velocities(engine: Engine, flows: pd.DataFrame) -> tuple[float, str]:
    diameters = engine.link_diameters_m()
    pipes = [
        i
        for i, (t, d) in enumerate(zip(engine.link_types(), diameters, strict=True))
        if t == "pipe" and d > 0
    ]
    area = math.pi * diameters[pipes] ** 2 / 4.0
    v = np.abs(flows.iloc[:, pipes].to_numpy()).max(axis=0) / area
    k = int(np.argmax(v))
    return float(v[k]), engine.link_ids[pipes[k]]


def _tanks(run: DayRun, net: Network) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for tank in run.level_m.columns:
        levels = run.level_m[tank].to_numpy()
        min_level = float(net.wn.get_node(tank).min_level)
        out.append(
            {
                "tank": tank,
                "start_level_m": round(float(levels[0]), 3),
                "end_level_m": round(float(levels[-1]), 3),
                "min_level_m": round(float(levels.min()), 3),
                "max_level_m": round(float(levels.max()), 3),
                "drained": bool(levels.min() <= min_level + 0.01),
            }
        )
    return out


def _below(run: DayRun, minimum_m: float, skip: set[str]) -> list[str]:
    low = run.pressure_m.min(axis=0)
    return [str(n) for n in low.index[low < minimum_m] if n not in skip]


def extend(
    net: Network,
    connections: Sequence[Connection] = (),
    new_pipe: NewPipe | None = None,
    *,
    design: DemandDesign | None = None,
    min_pressure_m: float = 10.0,
) -> Extension:
    """Connect households and/or lay a new pipe, and report service over the design day."""
    design = design or DemandDesign()
    if not connections and new_pipe is None:
        raise InputError(
            "nothing to connect: give --connect NODE:HOUSEHOLDS or --new-pipe", field="connect"
        )
    if not (math.isfinite(min_pressure_m) and min_pressure_m > 0):
        raise InputError(f"must be a positive pressure, got {min_pressure_m}", field="min-pressure")
    pda = PDA(0.0, min_pressure_m, 0.5)
    with Engine(net, warm_start=False) as engine:
        for c in connections:
            _junction(engine, c.node, "--connect")
        if new_pipe is not None:
            _junction(engine, new_pipe.from_node, "--new-pipe")
        before = day_run(engine, pda)
        below_before = _below(before, min_pressure_m, set())
        q_new = sum(_add_households(engine, c.node, c.households, design) for c in connections)
        pipe_info: dict[str, object] | None = None
        if new_pipe is not None:
            q_new += _lay_pipe(engine, net, new_pipe, design)
            pipe_info = _size_pipe(engine, new_pipe, pda, min_pressure_m)
        after = day_run(engine, pda)
        vmax, vlink = _velocities(engine, after.flow_m3s)
    node_min = after.pressure_m.min(axis=0)
    critical = str(node_min.idxmin())
    new_nodes = sorted({c.node for c in connections} | ({new_pipe.end_node} if new_pipe else set()))
    return Extension(
        min_pressure_m=float(node_min.min()),
        critical_node=critical,
        nodes_below_min=_below(after, min_pressure_m, set()),
        nodes_below_min_before=below_before,
        demand_shortfall_pct=after.shortfall_pct(),
        demand_shortfall_pct_before=before.shortfall_pct(),
        new_demand_m3s=q_new,
        new_nodes_shortfall_pct=after.shortfall_pct(new_nodes) if new_nodes else 0.0,
        max_velocity_m_s=vmax,
        max_velocity_link=vlink,
        tanks=_tanks(after, net),
        service_pressure_m=min_pressure_m,
        new_pipe=pipe_info,
        node_min_pressure_m={str(k): float(v) for k, v in node_min.items()},
    )


def _lay_pipe(engine: Engine, net: Network, pipe: NewPipe, design: DemandDesign) -> float:
    start = net.nodes.loc[pipe.from_node]
    elevation = float(start["elevation_m"]) if pipe.elevation_m is None else pipe.elevation_m
    xy = (float(start["x"]) + pipe.length_m, float(start["y"]))
    engine.add_junction(pipe.end_node, elevation, xy)
    formula = str(net.wn.options.hydraulic.headloss)
    d = pipe.diameter_m if pipe.diameter_m is not None else STANDARD_DIAMETERS_MM[-1] / 1000.0
    engine.add_pipe(pipe.pipe, pipe.from_node, pipe.end_node, pipe.length_m, d, _NEW_ROUGHNESS[formula])
    return _add_households(engine, pipe.end_node, pipe.households, design)


def _size_pipe(engine: Engine, pipe: NewPipe, pda: PDA, min_pressure_m: float) -> dict[str, object]:
    """Smallest standard diameter keeping the new end node at the service pressure all day."""

    engine.set_demand_model(pda)

    def end_min(d_mm: float) -> float:
        engine.set_pipe_diameter(pipe.pipe, d_mm / 1000.0)
        res = engine.run(DAY_S, report_step_s=3600, nodes=[pipe.end_node], quantities=("pressure",))
        return float(res.pressure_m[pipe.end_node].min())

    sizes = list(STANDARD_DIAMETERS_MM)
    smallest: int | None = None
    lo, hi = 0, len(sizes) - 1
    if end_min(sizes[hi]) >= min_pressure_m:  # bisection: pressure at the end grows with diameter
        smallest = sizes[hi]
        while lo < hi:
            mid = (lo + hi) // 2
            if end_min(sizes[mid]) >= min_pressure_m:
                hi, smallest = mid, sizes[mid]
            else:
                lo = mid + 1
        smallest = sizes[hi]
    chosen_mm = pipe.diameter_m * 1000.0 if pipe.diameter_m is not None else smallest or sizes[-1]
    end_pressure = end_min(chosen_mm)
    return {
        "from_node": pipe.from_node,
        "end_node": pipe.end_node,
        "length_m": pipe.length_m,
        "households": pipe.households,
        "diameter_mm": chosen_mm,
        "smallest_standard_diameter_mm": smallest,
        "end_min_pressure_m": round(end_pressure, 3),
    }
