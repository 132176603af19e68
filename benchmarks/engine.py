"""Engine benchmark: open-once EPANET 2.3 toolkit sessions against wntr's EpanetSimulator on L-Town.

(a) the localisation workload: 200 single-leak single-period solves, one emitter moved to a different
    node each time; tirta's engine warm-started vs one EpanetSimulator run per leak;
(b) 200 single-leak 24-hour runs at 5-minute steps, same comparison.
Both sides solve the same cases (demand-driven, same emitters); the script checks they agree and prints
both timings and the ratio. Usage: python benchmarks/engine.py [--cases N] [--wntr-cases M] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import wntr

from tirta.hydraulics import Engine, orifice_coefficient
from tirta.network import builtin_network_path

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine

LTOWN = builtin_network_path("l-town")
HOLE_M = 0.012


def cases(n: int, seed: int = 1) -> list[str]:
    wn = wntr.network.WaterNetworkModel(str(LTOWN))
    rng = np.random.default_rng(seed)
    return [str(j) for j in rng.choice(wn.junction_name_list, size=n, replace=False)]


def tirta_single(nodes: list[str]) -> tuple[float, dict[str, np.ndarray]]:
    coef = orifice_coefficient(HOLE_M)
    out = {}
    with Engine(LTOWN, warm_start=True) as engine:
        engine.solve_snapshot()  # open and first solve outside the timing, as a session would be
        t0 = time.perf_counter()
        for node in nodes:
            engine.set_emitter(node, coef)
            out[node] = engine.solve_snapshot().pressure_m
            engine.set_emitter(node, 0.0)
        elapsed = time.perf_counter() - t0
        order = engine.node_ids
    return elapsed, {k: v for k, v in out.items()} | {"__order__": np.array(order)}


def tirta_eps(nodes: list[str]) -> float:
    coef = orifice_coefficient(HOLE_M)
    with Engine(LTOWN, warm_start=True) as engine:
        t0 = time.perf_counter()
        for node in nodes:
            engine.set_emitter(node, coef)
            res = engine.run(86400, report_step_s=300, quantities=("pressure", "flow"))
            engine.set_emitter(node, 0.0)
            assert len(res.pressure_m) == 289
        return time.perf_counter() - t0


def wntr_runs(nodes: list[str], duration_s: int, tmp: Path) -> tuple[float, dict[str, np.ndarray]]:
    coef = orifice_coefficient(HOLE_M)
    out = {}
    t0 = time.perf_counter()
    for k, node in enumerate(nodes):
        wn = wntr.network.WaterNetworkModel(str(LTOWN))
        wn.options.time.duration = duration_s
        wn.get_node(node).emitter_coefficient = coef
        res = wntr.sim.EpanetSimulator(wn).run_sim(file_prefix=str(tmp / f"w{k}"))
        out[node] = res.node["pressure"].iloc[0]
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--cases", type=int, default=200)
    ap.add_argument(
        "--wntr-cases", type=int, default=200, help="wntr side may run fewer cases (per-case rate)"
    )
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    nodes = cases(args.cases)
    wnodes = nodes[: args.wntr_cases]
    with tempfile.TemporaryDirectory(prefix="tirta-bench-") as tmp:
        t_single, ours = tirta_single(nodes)
        w_single, theirs = wntr_runs(wnodes, 0, Path(tmp))
        order = list(ours.pop("__order__"))
        diff = max(
            float(
                np.max(np.abs(ours[n][[order.index(c) for c in theirs[n].index]] - theirs[n].to_numpy()))
            )
            for n in wnodes[:20]
        )
        t_eps = tirta_eps(nodes)
        w_eps, _ = wntr_runs(wnodes, 86400, Path(tmp))
    rows = [
        ("(a) single-period leak solves", args.cases / t_single, len(wnodes) / w_single),
        ("(b) 24-h leak runs, 5-min steps", args.cases / t_eps, len(wnodes) / w_eps),
    ]
    result = {
        "machine": machine(),
        "network": "L-Town (782 junctions, 905 pipes)",
        "cases": args.cases,
        "wntr_cases": len(wnodes),
        "max_pressure_diff_m_single": diff,
        "rows": [
            {
                "workload": name,
                "tirta_per_s": ours_rate,
                "wntr_per_s": w_rate,
                "ratio": ours_rate / w_rate,
            }
            for name, ours_rate, w_rate in rows
        ],
    }
    m = result["machine"]
    print(
        f"engine benchmark, {m['date']}, {m['cpu']}, {m['cores']} cores, {m['memory']}, Python {m['python']}"
    )
    print(f"{'workload':34} {'tirta cases/s':>14} {'wntr cases/s':>13} {'ratio':>8}")
    for row in result["rows"]:
        print(
            f"{row['workload']:34} {row['tirta_per_s']:14.1f} {row['wntr_per_s']:13.2f} {row['ratio']:7.0f}x"
        )
    print(f"largest pressure difference tirta vs wntr on the same single-period cases: {diff:.4f} m")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
