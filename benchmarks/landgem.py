"""LandGEM benchmark: methane generation of many landfills over many years, tirta's vectorised NumPy
model against the equation as a pure-Python loop (term by term, math.exp), measured in the same run.

Random but fixed histories (seed 16): each landfill accepts waste for 20–60 years, k 0.02–0.2, L0 60–170.
Both sides compute the same numbers; the script checks they agree (rtol 1e-9) and prints the ratio.
Usage: python benchmarks/landgem.py [--landfills 100] [--years 150] [--repeats 5] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from tirta.waste import methane_generation, methane_loop

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine


def histories(n: int, years: int, seed: int = 16) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mass t per landfill and year, k per landfill, L0 per landfill)."""
    rng = np.random.default_rng(seed)
    mass = np.zeros((n, years))
    for i in range(n):
        start = int(rng.integers(0, years // 3))
        span = int(rng.integers(20, 61))
        mass[i, start : start + span] = rng.uniform(5e4, 2e6)
    return mass, rng.uniform(0.02, 0.2, n), rng.uniform(60, 170, n)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--landfills", type=int, default=100)
    ap.add_argument("--years", type=int, default=150)
    ap.add_argument("--repeats", type=int, default=5, help="tirta runs; the best counts")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    mass, k, l0 = histories(args.landfills, args.years)

    best_batch = best_each = float("inf")
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        fast = methane_generation(mass, k, l0)
        best_batch = min(best_batch, time.perf_counter() - t0)
        t0 = time.perf_counter()
        each = np.array([methane_generation(mass[i], k[i], l0[i]) for i in range(len(k))])
        best_each = min(best_each, time.perf_counter() - t0)
    t0 = time.perf_counter()
    slow = np.array([methane_loop(mass[i].tolist(), float(k[i]), float(l0[i])) for i in range(len(k))])
    loop_s = time.perf_counter() - t0
    np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(each, slow, rtol=1e-9, atol=1e-6)

    result = {
        "machine": machine(),
        "landfills": args.landfills,
        "years": args.years,
        "rows": [
            {
                "workload": "tirta, all landfills in one call",
                "seconds": best_batch,
                "ratio": loop_s / best_batch,
            },
            {
                "workload": "tirta, one call per landfill",
                "seconds": best_each,
                "ratio": loop_s / best_each,
            },
            {"workload": "pure-Python loop (baseline)", "seconds": loop_s, "ratio": 1.0},
        ],
    }
    m = result["machine"]
    print(
        f"LandGEM benchmark, {m['date']}, {m['cpu']}, {m['cores']} cores, {m['memory']}, Python {m['python']}"
    )
    print(f"{args.landfills} landfills x {args.years} years; results agree (rtol 1e-9)")
    print(f"{'workload':36} {'ms':>10} {'speed-up':>9}")
    for row in result["rows"]:
        print(f"{row['workload']:36} {1000 * row['seconds']:10.2f} {row['ratio']:8.0f}x")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
