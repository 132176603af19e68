"""Scale benchmark: the same work in-process and on two Dask workers, a 100,000-junction city, and MQTT
ingestion into PostgreSQL with one and with two ingesters sharing a subscription.

Each workload runs in its own child process (``--one NAME``) so its peak memory (max RSS) is its own.
(a) scenario batch (``tirta simulate --scenarios``) and (b) leak-signature matrix on L-Town and on a
synthetic city: in-process against a real local Dask cluster (scheduler + 2 worker processes);
(c) the city alone: generation, loading, a single-period solve and a 24-hour run;
(d) MQTT 500-reading messages → PostgreSQL: one ingester, two (``--group``), ``mosquitto_sub`` as the
reference, with each ingester's CPU seconds per million readings.
Usage: python benchmarks/scale.py [--city-nodes 100000] [--skip-mqtt] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _machine import machine

TOPIC = "tirta/bench/readings"


# --- workloads, each run in a child process -----------------------------------------------------------
def _executor(scheduler: str | None) -> Any:
    from tirta.hydraulics.executors import DaskExecutor, SerialExecutor

    return DaskExecutor(scheduler) if scheduler else SerialExecutor()


def w_batch(
    inp: str, scenarios: int, days: float, step_s: int, scheduler: str | None, out: str
) -> dict[str, Any]:
    from tirta.hydraulics.batch import simulate_batch
    from tirta.hydraulics.simulate import SimulationConfig
    from tirta.network import load_network

    net = load_network(inp)
    cfg = SimulationConfig(days=days, leaks=(1, 1), seed=100, step_s=step_s)
    ex = _executor(scheduler)
    t0 = time.perf_counter()
    simulate_batch(net, cfg, scenarios, out, executor=ex)
    return {"seconds": time.perf_counter() - t0}


def w_signatures(inp: str, nodes: int, scheduler: str | None) -> dict[str, Any]:
    import numpy as np

    from tirta.leaks.localize import compute_signatures
    from tirta.network import load_network

    net = load_network(inp)
    junctions = net.nodes.index[net.nodes["type"] == "Junction"]
    rng = np.random.default_rng(0)
    sensors = list(rng.choice(junctions, size=min(30, len(junctions)), replace=False))
    ex = _executor(scheduler)
    t0 = time.perf_counter()
    sig = compute_signatures(net, sensors, executor=ex, hours=(3.0,), chunks=4, junctions=nodes or None)
    return {"seconds": time.perf_counter() - t0, "pipes": len(sig.pipes), "sensors": len(sensors)}


def w_city(nodes: int, out: str) -> dict[str, Any]:
    from tirta.hydraulics import Engine
    from tirta.network import load_network
    from tirta.network.synth import synth_city, write_city

    t0 = time.perf_counter()
    city = synth_city(nodes, seed=1)
    write_city(city, out)
    t_gen = time.perf_counter() - t0
    t0 = time.perf_counter()
    net = load_network(out)
    t_load = time.perf_counter() - t0
    with Engine(net) as engine:
        t0 = time.perf_counter()
        snap = engine.solve_snapshot(7 * 3600)
        t_solve = time.perf_counter() - t0
        t0 = time.perf_counter()
        engine.run(86400 - 3600, report_step_s=3600, quantities=("pressure",))
        t_run = time.perf_counter() - t0
    return {
        "generate_s": t_gen,
        "load_s": t_load,
        "single_period_s": t_solve,
        "run_24h_s": t_run,
        "min_junction_pressure_m": float(snap.pressure_m[: city.junctions].min()),
        "dmas": city.dmas,
        "connections": city.connections,
    }


def run_one(name: str, args: list[str]) -> dict[str, Any]:
    """Run a workload in a child process; its result plus the child's peak memory (MiB)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--one", name, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


# --- MQTT into PostgreSQL --------------------------------------------------------------------------------
def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / float(__import__("os").sysconf("SC_CLK_TCK"))


def _peak_mib(pid: int) -> float:
    """Peak resident memory of a running process (VmHWM), MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def mqtt_rows(readings: int) -> list[dict[str, Any]]:
    import psycopg

    from services import Mosquitto, PostgresServer
    from telemetry import Publisher, _stream_file, payloads, reference_mqtt
    from tirta.network.sensors import make_sensor
    from tirta.telemetry.store import open_store

    n_sensors, per_message = 100, 500
    data = payloads(readings, per_message, n_sensors)
    _stream_file(data)  # the publisher's input file, written before any clock starts
    messages = readings // per_message
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        broker = Mosquitto(Path(tmp))
        broker.start()
        pg = PostgresServer()
        pg.start()
        try:
            ref = reference_mqtt(broker, data, messages)
            rows.append({"workload": "mqtt reference (mosquitto_sub)", "readings_per_s": readings / ref})
            for k, n_ing in enumerate((1, 2)):
                with psycopg.connect(f"{pg.base}/postgres", autocommit=True) as con:
                    con.execute(f"CREATE DATABASE scale{k}")
                url = f"{pg.base}/scale{k}"
                with open_store(url) as st:
                    st.add_sensors(
                        [
                            make_sensor({"id": f"s{i:03d}", "kind": "pressure", "unit": "m"})
                            for i in range(n_sensors)
                        ]
                    )
                procs = []
                for i in range(n_ing):
                    cmd = [sys.executable, "-m", "tirta", "ingest", "mqtt", "--broker", broker.url, "--topic", TOPIC,
                           "--group", f"bench{k}", "--client-id", f"scale{k}-{i}", "--store", url, "--idle-exit", "3"]  # fmt: skip
                    procs.append(
                        subprocess.Popen(
                            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
                        )
                    )
                for p in procs:  # wait until each subscribed
                    assert p.stderr is not None
                    while "subscribed" not in (line := p.stderr.readline()):
                        if not line and p.poll() is not None:
                            raise RuntimeError("ingester exited before subscribing")
                pub = Publisher(broker, data)
                cpu0 = [_cpu_s(p.pid) for p in procs]
                t0 = time.perf_counter()
                pub.send()
                last = time.perf_counter()
                with psycopg.connect(url) as con:
                    while True:
                        got = con.execute("SELECT count(*) FROM all_readings").fetchone()
                        if got and got[0] >= readings:
                            last = time.perf_counter()
                            break
                        time.sleep(0.05)
                elapsed = last - t0
                cpu = [_cpu_s(p.pid) - c for p, c in zip(procs, cpu0, strict=True)]
                peak = [_peak_mib(p.pid) for p in procs]  # still running: they exit after 3 s idle
                for p in procs:
                    p.wait(60)
                rows.append(
                    {
                        "workload": f"mqtt → PostgreSQL, {n_ing} ingester(s)",
                        "readings_per_s": readings / elapsed,
                        "ratio_to_reference": ref / elapsed,
                        "cpu_s_per_million_per_ingester": [round(c / readings * 1e6, 2) for c in cpu],
                        "peak_mib_per_ingester": [round(m) for m in peak],
                    }
                )
        finally:
            broker.stop()
            pg.stop()
            _stream_file(data).unlink(missing_ok=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--city-nodes", type=int, default=100_000)
    ap.add_argument("--scenarios", type=int, default=4)
    ap.add_argument("--days", type=float, default=1.0)
    ap.add_argument(
        "--city-sig-nodes",
        type=int,
        default=160,
        help="junctions whose signatures the city run computes (160: the candidates of one DMA)",
    )
    ap.add_argument("--mqtt-readings", type=int, default=1_000_000)
    ap.add_argument("--skip-mqtt", action="store_true")
    ap.add_argument("--skip-city", action="store_true")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--params", default="{}", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        p = json.loads(a.params)
        fn = {"batch": w_batch, "signatures": w_signatures, "city": w_city}[a.one]
        result = fn(**p)
        result["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return

    from dask_cluster import DaskCluster
    from tirta.network import builtin_network_path

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        city = tmp / "city.inp"
        if not a.skip_city:
            r = run_one("city", ["--params", json.dumps({"nodes": a.city_nodes, "out": str(city)})])
            rows.append({"workload": f"city of {a.city_nodes:,} junctions", **r})
            print(rows[-1], flush=True)
        cluster = DaskCluster(tmp / "dask", workers=2)
        (tmp / "dask").mkdir()
        cluster.start()
        try:
            ltown = str(builtin_network_path("l-town"))
            cases = [("L-Town", ltown, a.days, 300, 0)]
            if not a.skip_city:
                cases.append((f"city {a.city_nodes:,}", str(city), 1.0 / 24 * 6, 3600, a.city_sig_nodes))
            for label, inp, days, step, sig_nodes in cases:
                for kind in ("batch", "signatures"):
                    res = {}
                    for side, sched in (("in-process", None), ("2 Dask workers", cluster.address)):
                        if kind == "batch":
                            out = tmp / f"b-{label}-{side}".replace(" ", "_")
                            params = {
                                "inp": inp,
                                "scenarios": a.scenarios,
                                "days": days,
                                "step_s": step,
                                "scheduler": sched,
                                "out": str(out),
                            }
                        else:
                            params = {"inp": inp, "nodes": sig_nodes, "scheduler": sched}
                        res[side] = run_one(kind, ["--params", json.dumps(params)])
                        shutil.rmtree(tmp / f"b-{label}-{side}".replace(" ", "_"), ignore_errors=True)
                    base, dask = res["in-process"], res["2 Dask workers"]
                    rows.append(
                        {
                            "workload": f"{kind} on {label}",
                            "in_process_s": round(base["seconds"], 2),
                            "dask_2_workers_s": round(dask["seconds"], 2),
                            "speedup": round(base["seconds"] / dask["seconds"], 2),
                            "peak_mib_client": [round(base["peak_mib"]), round(dask["peak_mib"])],
                        }
                    )
                    print(rows[-1], flush=True)
        finally:
            cluster.stop()
    if not a.skip_mqtt:
        for row in mqtt_rows(a.mqtt_readings):
            rows.append(row)
            print(row, flush=True)
    result = {"machine": machine(), "rows": rows}
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
