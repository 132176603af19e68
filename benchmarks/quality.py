"""Quality flags on simulated sensor faults: L-Town and wntr's Net3 (pumps and tanks switching).

Per seed: 3 fault-free days (drift fit) then 4 days with 8 injected faults (stuck, spike, drift, gap)
on the pressure loggers, no leaks. Counts the injected pressure faults flagged with the right kind on
the right sensor, the spike flags that mark no injected spike, and the clean readings flagged
(outside faults ± 1 h). Reference, in the same run: a plain Hampel filter (window 7, 8 σ of the
sensor's first-difference noise), the spike rule before the flags learnt the operating modes.

    python benchmarks/quality.py [--seeds 6] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import wntr

from tirta.hydraulics.simulate import SimulationConfig, SimulationResult, simulate
from tirta.network import load_network, load_sensors
from tirta.network.model import Network, builtin_network_path
from tirta.network.sensors import SensorRegistry, make_sensor
from tirta.telemetry.quality import detect

STEP = pd.Timedelta("5min")
NET3 = Path(wntr.__file__).parent / "library" / "networks" / "Net3.inp"


def _net3_sensors(net: Network, seed: int) -> SensorRegistry:
    """12 pressure loggers drawn among junctions, the pumps' flows and the tanks' levels."""
    nodes, links = net.nodes, net.links
    rng = np.random.default_rng(seed)
    reg = SensorRegistry(source="bench")
    junctions = nodes.index[nodes["type"] == "Junction"].to_numpy()
    for node in sorted(rng.choice(junctions, 12, replace=False)):
        reg.add(make_sensor({"id": f"p{node}", "kind": "pressure", "node": node}))
    for link in links.index[links["type"] == "Pump"]:
        reg.add(make_sensor({"id": f"q{link}", "kind": "flow", "link": link}))
    for node in nodes.index[nodes["type"] == "Tank"]:
        reg.add(make_sensor({"id": f"h{node}", "kind": "level", "node": node}))
    return reg


def hampel(wide: pd.DataFrame, window: int = 7, threshold: float = 8.0) -> pd.DataFrame:
    """The reference: spike flags (sensor, start, end) of a plain Hampel filter, one per reading."""
    rows = []
    for sensor in wide.columns:
        series = wide[sensor].dropna()
        diff = np.diff(series.to_numpy())
        diff = diff[diff != 0]
        if len(diff) < window:
            continue
        sigma = max(1.4826 * float(np.median(np.abs(diff - np.median(diff)))) / np.sqrt(2), 1e-9)
        median = series.rolling(window, center=True, min_periods=window // 2 + 1).median()
        for t in series.index[(np.abs(series - median) / sigma > threshold).to_numpy()]:
            rows.append((sensor, t, t))
    return pd.DataFrame(rows, columns=["sensor", "start", "end"])


def _score(sim: SimulationResult, flags: pd.DataFrame, ref: pd.DataFrame) -> dict[str, int]:
    split = sim.scada.pressure.index[0] + pd.Timedelta(days=3)
    wide = sim.scada.pressure.loc[split:]
    faults = sim.faults[sim.faults["kind"] == "pressure"]
    index, hour = wide.index, pd.Timedelta("1h")
    faulty = np.zeros(wide.shape, dtype=bool)
    flagged = np.zeros(wide.shape, dtype=bool)
    right = 0
    for f in faults.itertuples():
        near = (flags["sensor"] == f.sensor) & (flags["start"] <= f.end + STEP)
        right += bool((near & (flags["end"] >= f.start - STEP) & (flags["kind"] == f.fault)).any())
        faulty[(index >= f.start - hour) & (index <= f.end + hour), wide.columns.get_loc(f.sensor)] = 1
    for f in flags.itertuples():
        flagged[(index >= f.start) & (index <= f.end), wide.columns.get_loc(f.sensor)] = True

    def false_spikes(spikes: pd.DataFrame) -> int:
        injected = np.zeros(len(spikes), dtype=bool)
        for f in faults[faults["fault"] == "spike"].itertuples():
            injected |= (
                (spikes["sensor"] == f.sensor)
                & (spikes["start"] <= f.end + STEP)
                & (spikes["end"] >= f.start - STEP)
            ).to_numpy()
        return int((~injected).sum())

    spikes = flags[flags["kind"] == "spike"]
    return {
        "faults": len(faults),
        "right_kind": right,
        "spike_flags": len(spikes),
        "false_spikes": false_spikes(spikes),
        "reference_spike_flags": len(ref),
        "reference_false_spikes": false_spikes(ref),
        "clean_flagged": int((flagged & ~faulty).sum()),
        "clean": int((~faulty).sum()),
    }


def run(name: str, seeds: int) -> dict[str, Any]:
    net = load_network(builtin_network_path("l-town") if name == "L-Town" else NET3)
    total: dict[str, Any] = {}
    t0 = time.perf_counter()
    detect_s = 0.0
    for seed in range(seeds):
        if name == "L-Town":
            sensors = load_sensors(builtin_network_path("l-town").with_name("sensors.json"), net)
        else:
            sensors = _net3_sensors(net, seed)
        cfg = SimulationConfig(days=4, train_days=3, leaks=(0, 0), seed=seed, faults=8)
        sim = simulate(net, cfg, sensors=sensors)
        split = sim.scada.pressure.index[0] + pd.Timedelta(days=3)
        wide = sim.scada.pressure
        context = pd.concat([sim.scada.flow, sim.scada.level], axis=1).loc[split:]
        t = time.perf_counter()
        flags = detect(wide.loc[split:], train=wide.loc[: split - STEP], context=context)
        detect_s += time.perf_counter() - t
        for key, value in _score(sim, flags, hampel(wide.loc[split:])).items():
            total[key] = total.get(key, 0) + value
    total["clean_flagged_pct"] = round(100 * total.pop("clean_flagged") / total.pop("clean"), 3)
    total["detect_s_per_seed"] = round(detect_s / seeds, 2)
    total["wall_s"] = round(time.perf_counter() - t0, 1)
    return total


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seeds", type=int, default=6, help="simulations per network")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    results = {name: run(name, args.seeds) for name in ("Net3", "L-Town")}
    print(f"quality flags, {args.seeds} seeds per network, 8 injected faults each")
    print(
        f"{'network':8} {'right kind':>12} {'false spikes':>14} {'ref. false spikes':>18} {'clean flagged':>14}"
    )
    for name, r in results.items():
        ratio = r["false_spikes"] / max(r["reference_false_spikes"], 1)
        print(
            f"{name:8} {r['right_kind']:>5} of {r['faults']:<4} {r['false_spikes']:>5} of "
            f"{r['spike_flags']:<6} {r['reference_false_spikes']:>7} of {r['reference_spike_flags']:<8} "
            f"{r['clean_flagged_pct']:>12} %   (false spikes {ratio:.0%} of the reference's)"
        )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"seeds": args.seeds, "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
