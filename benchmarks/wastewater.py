"""Wastewater benchmark: (a) BSM1 open-loop steady state, tirta (bsm2-python) against EXPOsan/QSDsan,
same run (constant BSM1 influent, same days, each from its package's default initial state), both checked
against the MATLAB/Simulink reference; (b) a year of hourly plant telemetry through the KPIs: read from a
DuckDB store and computed by tirta, against a plain-Python loop over the same readings.

EXPOsan needs numpy < 2 and so lives in its own venv: ``--exposan-python PATH`` (a Python with
``exposan`` installed); without it row (a) reports tirta only. Usage:
python benchmarks/wastewater.py [--days 100] [--exposan-python /tmp/exposan-venv/bin/python] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# MATLAB/Simulink steady state, bsm2-python tests/bsm1_ol_test.py (reference-cases.md §2)
REFERENCE = {
    "S_NH": 1.7333,
    "S_NO": 10.4152,
    "TSS": 12.4969,
    "COD": 47.55,
    "N_tot": 14.05,
    "S_S": 0.8895,
}


def exposan_worker(days: float) -> None:
    """Run EXPOsan's BSM1 for ``days`` (BDF) and print timings and effluent as JSON (in EXPOsan's venv)."""
    t0 = time.perf_counter()
    from exposan import bsm1

    bsm1.load()
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    bsm1.sys.simulate(t_span=(0, days), method="BDF", state_reset_hook="reset_cache")
    t_sim = time.perf_counter() - t0
    eff = bsm1.sys.outs[0]
    out = {k: float(eff.iconc[k]) for k in ("S_S", "S_NH", "S_NO")}
    out |= {"COD": float(eff.COD), "N_tot": float(eff.TN), "TSS": float(eff.get_TSS())}
    print(json.dumps({"load_s": t_load, "simulate_s": t_sim, "effluent": out}))


def max_rel_error(effluent: dict[str, float]) -> float:
    return max(abs(effluent[k] - v) / v for k, v in REFERENCE.items())


def bench_bsm1(days: float, exposan_python: str | None) -> dict[str, Any]:
    t0 = time.perf_counter()
    from tirta.wastewater.bsm1 import DEFAULT_STEP_MIN, run_bsm1

    run_bsm1("constant", days=DEFAULT_STEP_MIN / 1440.0 * 2)  # import and numba JIT outside the timing
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = run_bsm1("constant", days=days)
    t_sim = time.perf_counter() - t0
    eff = {**res.effluent, **res.aggregates}
    row: dict[str, Any] = {
        "days": days,
        "tirta_bsm2python_step_min": DEFAULT_STEP_MIN,
        "tirta_load_s": round(t_load, 1),
        "tirta_simulate_s": round(t_sim, 1),
        "tirta_max_rel_error_pct": round(100 * max_rel_error(eff), 3),
    }
    if exposan_python:
        proc = subprocess.run(
            [exposan_python, __file__, "--exposan-worker", str(days)],
            capture_output=True,
            text=True,
            timeout=3600,
        )
        if proc.returncode != 0:
            row["exposan_error"] = proc.stderr.strip().splitlines()[-1:]
        else:
            ex = json.loads(proc.stdout.strip().splitlines()[-1])
            row |= {
                "exposan_load_s": round(ex["load_s"], 1),
                "exposan_simulate_s": round(ex["simulate_s"], 1),
                "exposan_max_rel_error_pct": round(100 * max_rel_error(ex["effluent"]), 3),
                "ratio_tirta_over_exposan": round(t_sim / ex["simulate_s"], 2),
            }
    return row


def year_of_telemetry(url: str) -> tuple[Any, Any, Any]:
    """A plant with a year of hourly influent flow, power and biogas in a DuckDB store, and its lab file."""
    import numpy as np
    import pandas as pd

    from tirta.network.sensors import make_sensor
    from tirta.telemetry.store import open_store
    from tirta.wastewater.lab import lab_frame
    from tirta.wastewater.plants import Plant, kpi_defaults

    rng = np.random.default_rng(7)
    times = pd.date_range("2025-01-01", "2026-01-01", freq="1h", tz="UTC", inclusive="left")
    hour = times.hour.to_numpy()
    diurnal = 1.0 + 0.3 * np.sin((hour - 6) / 24 * 2 * np.pi)
    series = {
        "ww_q": (1500.0 / 24 * diurnal * rng.normal(1, 0.05, len(times)), "m3/h", "flow"),
        "ww_kw": (25.0 * rng.normal(1, 0.05, len(times)), "kW", "power"),
        "ww_gas": (150.0 / 24 * rng.normal(1, 0.05, len(times)), "m3/h", "gas_flow"),
    }
    raw = pd.concat(
        [
            pd.DataFrame({"sensor": s, "time": times, "value": v, "unit": u})
            for s, (v, u, _) in series.items()
        ]
    )
    with open_store(url) as store:
        store.add_sensors(
            [make_sensor({"id": s, "kind": k, "unit": u}) for s, (_, u, k) in series.items()]
        )
        store.ingest(raw, source="bench", now=pd.Timestamp("2026-01-02", tz="UTC"))
    rows = [["sample", "time", "point", "parameter", "value", "unit"]]
    for i, day in enumerate(pd.date_range("2025-01-03", periods=52, freq="7D")):
        for point, cod, bod in (("influent", 500, 220), ("effluent", 60 + i % 50, 20)):
            rows += [[f"s{i}", str(day), point, "COD", str(cod), "mg/L"]]
            rows += [[f"s{i}", str(day), point, "BOD5", str(bod), "mg/L"]]
    plant = Plant(
        id="bench",
        name="bench",
        design_flow_m3s=2000 / 86400,
        design_bod_kg_s=400 / 86400,
        sensors={"influent_flow": "ww_q", "power": "ww_kw", "biogas": "ww_gas"},
        constants=kpi_defaults(),
    )
    return plant, lab_frame(rows), raw


def loop_baseline(raw: Any) -> dict[str, dict[str, float]]:
    """Monthly treated m³, kWh and biogas m³ by a plain Python loop over the raw readings."""
    rows = sorted(
        (str(s), t.to_pydatetime(), float(v), str(u))
        for s, t, v, u in raw.itertuples(index=False, name=None)
    )
    sums: dict[str, dict[str, float]] = {}
    for i, (sensor, t, value, _unit) in enumerate(rows):
        nxt = rows[i + 1] if i + 1 < len(rows) else None
        dt = (
            (nxt[1] - t).total_seconds()
            if nxt and nxt[0] == sensor and nxt[1].month == t.month
            else 3600.0
        )
        month = t.strftime("%Y-%m")
        key = {"ww_q": "treated_m3", "ww_kw": "energy_kwh", "ww_gas": "biogas_m3"}[sensor]
        amount = value * dt / 3600.0  # m3/h or kW over dt hours
        sums.setdefault(month, {}).setdefault(key, 0.0)
        sums[month][key] += amount
    return sums


def bench_kpis(repeats: int) -> dict[str, Any]:
    from tirta.telemetry.store import open_store
    from tirta.wastewater.summary import plant_summary, plant_telemetry

    with tempfile.TemporaryDirectory() as tmp:
        url = f"duckdb:///{Path(tmp) / 'bench.duckdb'}"
        plant, lab, raw = year_of_telemetry(url)
        best, best_read = float("inf"), float("inf")
        summary: dict[str, Any] = {}
        with open_store(url) as store:
            for _ in range(repeats):
                t0 = time.perf_counter()
                tele = plant_telemetry(store, plant, "2025-01-01", "2026-01-01")
                t1 = time.perf_counter()
                summary = plant_summary(plant, tele, lab)
                best = min(best, time.perf_counter() - t0)
                best_read = min(best_read, t1 - t0)
        t0 = time.perf_counter()
        base = loop_baseline(raw)
        t_loop = time.perf_counter() - t0
    worst = 0.0
    for m in summary["months"]:
        for key in ("treated_m3", "energy_kwh", "biogas_m3"):
            worst = max(worst, abs(m[key] - base[m["month"]][key]) / base[m["month"]][key])
    return {
        "readings": len(raw),
        "months": len(summary["months"]),
        "tirta_store_read_and_kpis_s": round(best, 3),
        "tirta_store_read_s": round(best_read, 3),
        "python_loop_kpis_s": round(t_loop, 3),
        "ratio_loop_over_tirta": round(t_loop / best, 1),
        "max_rel_difference": worst,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=100.0)
    parser.add_argument("--exposan-python", default=None)
    parser.add_argument("--exposan-worker", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--skip-bsm1", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.exposan_worker is not None:
        exposan_worker(args.exposan_worker)
        return
    sys.path.insert(0, str(Path(__file__).parent))
    from _machine import machine

    out: dict[str, Any] = {"machine": machine(), "kpis": bench_kpis(args.repeats)}
    print(json.dumps(out["kpis"]), flush=True)
    if not args.skip_bsm1:
        out["bsm1"] = bench_bsm1(args.days, args.exposan_python)
        print(json.dumps(out["bsm1"]), flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
