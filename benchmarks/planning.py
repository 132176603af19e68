"""Capacity benchmark: tirta's capacity query (one open EPANET project, safeguarded secant) against a
naive bisection that reopens EPANET for every trial, on L-Town and wntr's Net6, in the same run.

Each query is end to end (open the model, run the day for the peak hour and tank levels, search to
within 1 %); both sides answer the same nodes and the script prints how far their answers differ.
Usage: python benchmarks/planning.py [--queries N] [--residual M] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import wntr

from tirta.hydraulics import Engine
from tirta.network import builtin_network_path
from tirta.planning import capacity, capacity_naive

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine

NETWORKS = {
    "L-Town": builtin_network_path("l-town"),
    "Net6 (wntr)": Path(wntr.__file__).parent / "library" / "networks" / "Net6.inp",
}


def pick_nodes(path: Path, n: int, seed: int = 3) -> list[str]:
    with Engine(path) as engine:
        junctions = list(engine.junction_ids)
    rng = np.random.default_rng(seed)
    return [str(j) for j in rng.choice(junctions, size=min(n, len(junctions)), replace=False)]


def bench(path: Path, nodes: list[str], residual: float) -> dict[str, object]:
    rows = []
    for node in nodes:
        t0 = time.perf_counter()
        ours = capacity(path, node, residual_m=residual)
        t1 = time.perf_counter()
        naive = capacity_naive(path, node, residual_m=residual, hour=ours.hour)
        t2 = time.perf_counter()
        q = max(ours.extra_demand_m3s, 1e-12)
        rows.append(
            {
                "node": node,
                "hour": ours.hour,
                "tirta_lps": ours.extra_demand_lps,
                "naive_lps": naive.extra_demand_lps,
                "rel_diff": abs(naive.extra_demand_m3s - ours.extra_demand_m3s) / q,
                "tirta_s": t1 - t0,
                "naive_s": t2 - t1,
                "tirta_trials": ours.trials,
                "naive_trials": naive.trials,
            }
        )
    t_ours = statistics.median(float(r["tirta_s"]) for r in rows)  # type: ignore[arg-type]
    t_naive = statistics.median(float(r["naive_s"]) for r in rows)  # type: ignore[arg-type]
    return {
        "queries": rows,
        "tirta_median_s": t_ours,
        "naive_median_s": t_naive,
        "ratio": t_naive / t_ours,
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--queries", type=int, default=3, help="nodes per network")
    ap.add_argument("--residual", type=float, default=10.0, help="residual pressure, m")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    result: dict[str, object] = {"machine": machine(), "residual_m": args.residual, "networks": {}}
    m = result["machine"]
    assert isinstance(m, dict)
    print(
        f"capacity benchmark, {m['date']}, {m['cpu']}, {m['cores']} cores, {m['memory']}, Python {m['python']}"
    )
    print(
        f"{'network':12} {'node':>14} {'tirta L/s':>10} {'naive L/s':>10} {'tirta s':>8} {'naive s':>8} {'trials':>7}"
    )
    nets: dict[str, object] = {}
    for name, path in NETWORKS.items():
        out = bench(path, pick_nodes(path, args.queries), args.residual)
        nets[name] = out
        for r in out["queries"]:  # type: ignore[attr-defined]
            print(
                f"{name:12} {r['node']:>14} {r['tirta_lps']:10.2f} {r['naive_lps']:10.2f} "
                f"{r['tirta_s']:8.2f} {r['naive_s']:8.2f} {r['tirta_trials']:>3}/{r['naive_trials']:<3}"
            )
        print(
            f"{name:12} median query: tirta {out['tirta_median_s']:.2f} s, naive {out['naive_median_s']:.2f} s, "
            f"{out['ratio']:.1f}x"
        )
    result["networks"] = nets
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
