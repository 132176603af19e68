"""Extended-period runs of an open EPANET project: the time loop behind :meth:`Engine.run`.

Leaks follow their ramps step by step; results come back as frames with a UTC index, in SI units.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from epanet import toolkit as tk

from tirta.errors import InputError, SimulationError
from tirta.hydraulics.plausibility import implausible

if TYPE_CHECKING:
    from tirta.hydraulics.engine import Engine

__all__ = ["INIT_COLD", "INIT_WARM", "QUANTITIES", "Progress", "Results", "run_period"]

QUANTITIES = ("pressure", "head", "demand", "flow", "level", "leak")
INIT_COLD = 10  # EN_initH flag: re-initialise link flows
INIT_WARM = 0  # keep the flows of the previous solve as the starting guess
Progress = Callable[[int, int], None]


@dataclass
class Results:
    """An extended-period run: frames with a UTC time index and one column per element, SI units.

    ``demand_m3s`` is consumer demand delivered (pressure-driven when PDA is on);
    ``leak_m3s`` is the emitter outflow at each leak node; ``level_m`` is tank water level.
    """

    pressure_m: pd.DataFrame
    head_m: pd.DataFrame
    demand_m3s: pd.DataFrame
    flow_m3s: pd.DataFrame
    level_m: pd.DataFrame
    leak_m3s: pd.DataFrame
    warnings: list[str] = field(default_factory=list)


def run_period(
    eng: Engine,
    duration_s: int | None,
    report_step_s: int | None,
    nodes: Iterable[str] | None,
    links: Iterable[str] | None,
    quantities: Iterable[str],
    progress: Progress | None,
) -> Results:
    """The body of :meth:`Engine.run` (one attempt): EPANET's extended-period loop, results as frames."""
    want = set(quantities)
    if unknown := want - set(QUANTITIES):
        raise InputError(
            f"unknown quantities {sorted(unknown)}; expected {QUANTITIES}", field="quantities"
        )
    ph = eng._ph
    duration = int(eng.duration_s if duration_s is None else duration_s)
    step = int(report_step_s or eng.report_step_s)
    if step <= 0:
        raise InputError("report step must be positive", field="report_step_s")
    eng._close_h()
    tk.settimeparam(ph, tk.DURATION, duration)
    tk.settimeparam(ph, tk.PATTERNSTART, 0)
    tk.settimeparam(ph, tk.REPORTSTEP, step)
    tk.settimeparam(ph, tk.REPORTSTART, 0)
    node_cols = list(eng.node_ids if nodes is None else nodes)
    link_cols = list(eng.link_ids if links is None else links)
    ni = np.arange(len(node_cols)) if nodes is None else eng._indexes(node_cols, eng.node_index)
    li = np.arange(len(link_cols)) if links is None else eng._indexes(link_cols, eng.link_index)
    tanks = np.array([eng.node_index(t) - 1 for t in eng.tank_ids], dtype=int)
    tank_elev = np.array([tk.getnodevalue(ph, int(i) + 1, tk.ELEVATION) for i in tanks], dtype=float)
    leaks = list(eng._leaks.values())
    leak_idx = np.array([eng.node_index(lk.node) for lk in leaks], dtype=int)
    n_rep = duration // step + 1
    width = {
        "pressure": len(ni),
        "head": len(ni),
        "demand": len(ni),
        "flow": len(li),
        "level": len(tanks),
        "leak": len(leaks),
    }
    out = {q: np.full((n_rep, width[q] if q in want else 0), np.nan) for q in QUANTITIES}
    fetch_node = [
        (q, prop, eng._vn[key])
        for q, prop, key in (
            ("pressure", tk.PRESSURE, "p"),
            ("head", tk.HEAD, "h"),
            ("demand", tk.DEMANDFLOW, "d"),
        )
        if q in want or (q == "head" and "level" in want)
    ]
    eng._open_h()
    tk.initH(ph, INIT_WARM if eng.warm_start else INIT_COLD)
    t, reached = 0, -1
    coef = np.zeros(len(leaks))
    notes: list[str] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            while True:
                # runH solves at the time nextH advanced to: the leaks must be sized for it
                for j, (leak, idx) in enumerate(zip(leaks, leak_idx, strict=True)):
                    coef[j] = float(leak.coefficient_at(t))
                    tk.setnodevalue(ph, int(idx), tk.EMITTER, coef[j])
                seen = len(caught)
                solved = int(tk.runH(ph))
                if (
                    len(caught) > seen
                ):  # owa-epanet turns EPANET warnings (e.g. unbalanced) into Warnings
                    notes.append(f"t = {t} s: EPANET {'; '.join(str(w.message) for w in caught[seen:])}")
                if solved != t:
                    raise SimulationError(f"EPANET solved an unexpected time (wanted {t} s)")
                if t % step == 0 and t <= duration:
                    k = t // step
                    for q, prop, vec in fetch_node:
                        tk.getnodevalues(ph, prop, vec.c)
                        if q in want:
                            out[q][k] = vec.np[ni]
                    if "flow" in want:
                        tk.getlinkvalues(ph, tk.FLOW, eng._vl.c)
                        out["flow"][k] = eng._vl.np[li]
                    if "level" in want:
                        out["level"][k] = eng._vn["h"].np[tanks] - tank_elev
                    if "leak" in want and leaks:
                        e = eng._vn["e"]
                        tk.getnodevalues(ph, tk.EMITTERFLOW, e.c)
                        # EPANET leaves its initial guess in place where the coefficient is 0
                        out["leak"][k] = np.where(coef > 0, e.np[leak_idx - 1], 0.0)
                    reached = t
                    if progress is not None:
                        progress(k + 1, n_rep)
                tstep = int(tk.nextH(ph))
                if tstep <= 0:
                    break
                t += tstep
    except SimulationError:
        raise
    except Exception as exc:
        raise SimulationError(f"EPANET failed at t = {t} s: {exc}", file=eng.path) from None
    finally:
        for idx in leak_idx:
            tk.setnodevalue(ph, int(idx), tk.EMITTER, 0.0)
    if reached < (duration // step) * step:
        detail = f" ({notes[-1]})" if notes else ""
        raise SimulationError(
            f"EPANET stopped at t = {reached} s before the end of the run ({duration} s); "
            f"the network may be unbalanced or disconnected{detail}",
            file=eng.path,
        )
    index = eng.start + pd.to_timedelta(np.arange(n_rep) * step, unit="s")
    index.name = "time"
    cols = {
        "pressure": node_cols,
        "head": node_cols,
        "demand": node_cols,
        "flow": link_cols,
        "level": list(eng.tank_ids),
        "leak": [lk.pipe for lk in leaks],
    }

    def frame(q: str) -> pd.DataFrame:
        return pd.DataFrame(out[q], index=index, columns=pd.Index(cols[q] if q in want else []))

    results = Results(
        pressure_m=frame("pressure"),
        head_m=frame("head"),
        demand_m3s=frame("demand"),
        flow_m3s=frame("flow"),
        level_m=frame("level"),
        leak_m3s=frame("leak"),
    )
    is_junction = set(eng.junction_ids)  # built once: a set per column was O(n²), 6 min at 100 k nodes
    junctions = [c for c in node_cols if c in is_junction]
    results.warnings.extend(implausible(results, junctions))
    if notes:  # owa-epanet does not say which warning: unbalanced, negative pressures, …
        results.warnings.append(
            f"EPANET warned (unbalanced system, negative pressures, pumps or valves that cannot "
            f"deliver) at {len(notes)} time step(s), first at {notes[0].split(':')[0]}"
        )
    return results
