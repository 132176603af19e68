"""Telemetry generator: realistic sensor data from any EPANET network, with hidden leaks and truth.

The "real" network differs from the model (pipe roughness and base demands perturbed by a few
percent), demands vary day to day and step to step, leaks are orifices on pipe midpoints (abrupt or
incipient, some repaired), sensors add noise and faults (stuck, spike, drift, gaps). The output is the
BattLeDIM layout plus ``truth.csv``, ``faults.csv``, ``sensors.json`` and ``scenario.json``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from tirta.errors import InputError
from tirta.hydraulics.customers import (
    CustomerConfig,
    CustomerData,
    simulate_customers,
    write_customer_truth,
    write_customers,
)
from tirta.hydraulics.engine import Engine
from tirta.hydraulics.scenarios import PDA, Leak, orifice_flow
from tirta.network.model import Network, load_network
from tirta.network.sensors import SensorRegistry, registry_from_battledim
from tirta.telemetry.battledim import ScadaData, write_battledim, write_truth

__all__ = ["SimulationConfig", "SimulationResult", "draw_leaks", "parse_leak_count", "simulate"]

Progress = Callable[[int, int], None]
FAULT_KINDS = ("stuck", "spike", "drift", "gap")


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate; every random choice is drawn from ``seed``."""

    days: float = 28.0
    train_days: float = 0.0  # leak-free period written to train/ before the eval period
    leaks: tuple[int, int] = (3, 3)  # number of leaks drawn uniformly in [min, max]
    seed: int = 0
    start: str = "2021-01-01"
    step_s: int = 300
    leak_diameter_m: tuple[float, float] = (0.008, 0.020)
    incipient_share: float = 0.5
    ramp_days: tuple[float, float] = (1.0, 7.0)
    repair_probability: float = 0.4
    roughness_sigma: float = 0.03  # relative model/real mismatch of pipe roughness
    demand_sigma: float = 0.05  # relative model/real mismatch of base demands
    daily_sigma: float = 0.05  # day-to-day demand multiplier
    step_sigma: float = 0.03  # step-to-step demand noise
    pressure_noise_m: float = 0.02
    flow_noise_rel: float = 0.005
    level_noise_m: float = 0.003
    demand_noise_rel: float = 0.02
    faults: int = 0  # sensor faults drawn over the eval period
    pda: PDA = field(default_factory=PDA)
    customer_leaks: int = 0  # continuous flows behind smart customer meters (Customers.csv)
    meter_faults: int = 0  # stopped, under-registering, reversed or tampered customer meters
    customers: int = 0  # smart-metered households; 0: 200 when leaks or faults are planted

    def __post_init__(self) -> None:
        if not self.days > 0:
            raise InputError("must be positive", field="days")
        if self.train_days < 0:
            raise InputError("must not be negative", field="train_days")
        lo, hi = self.leaks
        if lo < 0 or hi < lo:
            raise InputError("expected 0 <= min <= max", field="leaks")
        if self.step_s <= 0 or 86400 % self.step_s:
            raise InputError("step must divide a day", field="step_s")
        if self.faults < 0:
            raise InputError("must not be negative", field="faults")
        for name in ("customer_leaks", "meter_faults", "customers"):
            if getattr(self, name) < 0:
                raise InputError("must not be negative", field=name)
        n = self.customers or (200 if self.customer_leaks + self.meter_faults else 0)
        if self.customer_leaks + self.meter_faults > n:
            raise InputError(
                f"more customer leaks and meter faults than customers ({n})", field="customers"
            )


@dataclass
class SimulationResult:
    """The generated data (SI) and ground truth, and where they were written."""

    scada: ScadaData
    truth: pd.DataFrame
    faults: pd.DataFrame
    sensors: SensorRegistry
    consumption_m3: pd.DataFrame = field(default_factory=pd.DataFrame)  # delivered per junction per day
    customers: CustomerData | None = None  # smart customer meters with planted leaks and faults
    out: Path | None = None
    files: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # implausible results, EPANET's warnings

    @property
    def n_readings(self) -> int:
        return self.scada.n_readings()


def parse_leak_count(text: str) -> tuple[int, int]:
    """Parse ``K`` or ``MIN-MAX`` into (min, max)."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", text)
    if not match:
        raise InputError(f"expected a number K or a range MIN-MAX, got '{text}'", field="leaks")
    lo = int(match.group(1))
    hi = int(match.group(2)) if match.group(2) else lo
    if hi < lo:
        raise InputError(f"range {text} is empty", field="leaks")
    return lo, hi


def default_sensors(net: Network, rng: np.random.Generator) -> SensorRegistry:
    """A plausible sensor set for a network without one: source flows, tank levels, ~5 % pressure
    loggers and ~10 % AMR meters among demand junctions."""
    nodes, links = net.nodes, net.links
    sources = set(nodes.index[nodes["type"].isin(["Reservoir", "Tank"])])
    at_source = links["start_node"].isin(sources) | links["end_node"].isin(sources)
    flow = [str(k) for k in links.index[(links["type"] == "Pump") | at_source]]
    junctions = nodes.index[nodes["type"] == "Junction"].to_numpy()
    demand_nodes = nodes.index[(nodes["type"] == "Junction") & (nodes["base_demand_m3s"] > 0)]
    n_p = max(3, round(0.05 * len(junctions)))
    n_a = max(3, round(0.10 * len(demand_nodes))) if len(demand_nodes) else 0
    # a node and a link may share an id (EPANET keeps them apart); a sensor id names one element
    metered = set(flow)
    loggers = np.array([j for j in junctions if j not in metered], dtype=object)
    pressure = sorted(rng.choice(loggers, size=min(n_p, len(loggers)), replace=False).tolist())
    amr = (
        sorted(rng.choice(demand_nodes.to_numpy(), size=min(n_a, len(demand_nodes)), replace=False))
        if n_a
        else []
    )
    spec = {
        "pressure_sensors": pressure,
        "flow_sensors": flow,
        "level_sensors": list(nodes.index[nodes["type"] == "Tank"]),
        "amrs": [str(a) for a in amr],
    }
    return registry_from_battledim(spec, source="generated")


def draw_leaks(
    net: Network,
    cfg: SimulationConfig,
    rng: np.random.Generator,
    *,
    t0_s: float,
    t1_s: float,
    exclude: set[str] | frozenset[str] = frozenset(),
) -> list[Leak]:
    """Draw leaks on distinct pipes starting in [t0, t1) seconds, abrupt or incipient."""
    lo, hi = cfg.leaks
    count = int(rng.integers(lo, hi + 1))
    if count == 0:
        return []
    links, nodes = net.links, net.nodes
    sources = set(nodes.index[nodes["type"].isin(["Reservoir", "Tank"])])
    pipes = links[
        (links["type"] == "Pipe")
        & (links["length_m"] > 1.0)
        & ~links["start_node"].isin(sources)
        & ~links["end_node"].isin(sources)
        & ~links.index.isin(list(exclude))
    ].index.to_numpy()
    if len(pipes) < count:
        raise InputError(f"network has only {len(pipes)} pipes that can carry a leak", field="leaks")
    chosen = rng.choice(pipes, size=count, replace=False)
    step = cfg.step_s
    span = t1_s - t0_s
    leaks = []
    for pipe in chosen:
        start = t0_s + float(rng.uniform(0.05, 0.85)) * span
        start = math.floor(start / step) * step
        diameter = float(rng.uniform(*cfg.leak_diameter_m))
        peak = None
        if rng.random() < cfg.incipient_share:
            ramp = float(rng.uniform(*cfg.ramp_days)) * 86400
            peak = min(start + math.floor(ramp / step) * step, t1_s - step)
            if peak <= start:
                peak = None
        end = None
        if rng.random() < cfg.repair_probability:
            after = (peak or start) + float(rng.uniform(1.0, 10.0)) * 86400
            after = math.floor(after / step) * step
            if after < t1_s:
                end = after
        leaks.append(Leak(str(pipe), diameter, start, peak, end))
    return leaks


def _perturb_network(
    engine: Engine, net: Network, cfg: SimulationConfig, rng: np.random.Generator
) -> None:
    """Make the engine's copy the "real" network: roughness and base demands off by a few %."""
    for pipe in net.links.index[net.links["type"] == "Pipe"]:
        engine.set_roughness(
            pipe, engine.get_roughness(pipe) * (1.0 + rng.normal(0, cfg.roughness_sigma))
        )
    for node in engine.junction_ids:
        for cat, demand in enumerate(_demands(net, node), start=1):
            if demand:
                factor = max(0.0, 1.0 + rng.normal(0, cfg.demand_sigma))
                engine.set_base_demand(node, demand * factor, category=cat)


def _demands(net: Network, node: str) -> list[float]:
    junction = net.wn.get_node(node)
    return [float(d.base_value) for d in junction.demand_timeseries_list]


def _noisy_patterns(
    engine: Engine, cfg: SimulationConfig, duration_s: int, rng: np.random.Generator
) -> None:
    """Replace each demand pattern by one covering the run, with day-to-day and step noise."""
    pattern_step = int(engine.pattern_step_s)
    periods = duration_s // pattern_step + 1
    days = periods * pattern_step // 86400 + 1
    for pid in engine.pattern_ids():
        base = engine.get_pattern(pid)
        if len(base) == 0:
            continue
        tiled = np.resize(base, periods)
        day_of = (np.arange(periods) * pattern_step) // 86400
        daily = rng.lognormal(0.0, cfg.daily_sigma, size=days)[day_of]
        step = 1.0 + rng.normal(0.0, cfg.step_sigma, size=periods)
        engine.set_pattern(pid, np.clip(tiled * daily * step, 0.0, None))


def _apply_faults(
    scada: ScadaData, cfg: SimulationConfig, rng: np.random.Generator, t0: pd.Timestamp
) -> pd.DataFrame:
    """Inject sensor faults in place over [t0, end]; return one row per fault."""
    rows = []
    kinds = [k for k, f in scada.items() if k in ("pressure", "flow") and not f.empty]
    for _ in range(cfg.faults):
        kind = str(rng.choice(kinds, p=[0.8, 0.2] if len(kinds) == 2 else None))
        frame = getattr(scada, kind)
        sensor = str(rng.choice(frame.columns.to_numpy()))
        mask_all = frame.index >= t0
        n = int(mask_all.sum())
        if n < 10:
            continue
        fault = str(rng.choice(FAULT_KINDS))
        length = int(rng.integers(max(2, n // 20), max(3, n // 4)))
        i0 = int(np.flatnonzero(mask_all)[0] + rng.integers(0, n - length))
        rows_idx = np.arange(i0, i0 + length)
        col = frame.columns.get_loc(sensor)
        values = frame.iloc[:, col].to_numpy(copy=True)
        scale = 1.0 if kind == "pressure" else max(float(np.nanmean(np.abs(values))), 1e-6)
        magnitude = 0.0
        if fault == "stuck":
            values[rows_idx] = values[i0]
        elif fault == "gap":
            values[rows_idx] = np.nan
        elif fault == "drift":
            magnitude = float(rng.uniform(1.0, 3.0) * rng.choice([-1, 1])) * (
                1 if kind == "pressure" else 0.1 * scale
            )
            values[rows_idx] += np.linspace(0.0, magnitude, length)
        else:  # spike: a few isolated wild values
            picks = rng.choice(rows_idx, size=min(5, length), replace=False)
            magnitude = float(rng.uniform(5.0, 20.0)) * (1 if kind == "pressure" else 0.5 * scale)
            values[picks] += magnitude * rng.choice([-1, 1], size=len(picks))
            length = len(picks)
        frame.iloc[:, col] = values
        rows.append(
            {
                "sensor": sensor,
                "kind": kind,
                "fault": fault,
                "start": frame.index[i0],
                "end": frame.index[min(i0 + int(rows_idx.size) - 1, len(frame) - 1)],
                "magnitude_si": magnitude,
            }
        )
    return pd.DataFrame(rows, columns=["sensor", "kind", "fault", "start", "end", "magnitude_si"])


def simulate(
    network: str | Path | Network,
    cfg: SimulationConfig,
    *,
    sensors: SensorRegistry | None = None,
    out: str | Path | None = None,
    progress: Progress | None = None,
) -> SimulationResult:
    """Simulate ``cfg.train_days + cfg.days`` of telemetry; write it under ``out`` when given."""
    net = network if isinstance(network, Network) else load_network(network)
    # one stream per purpose, so that e.g. drawing no leak leaves the demands and noise unchanged
    rng_sensors, rng_leaks, rng_net, rng_demand, rng_noise, rng_faults = (
        np.random.default_rng(s) for s in np.random.SeedSequence(cfg.seed).spawn(6)
    )
    if sensors is None:
        sensors = default_sensors(net, rng_sensors)
    sensors.check_against(net)
    step = cfg.step_s
    train_s = round(cfg.train_days * 86400 / step) * step
    total_s = train_s + round(cfg.days * 86400 / step) * step
    start = pd.Timestamp(cfg.start, tz="UTC")
    t_split = start + pd.Timedelta(seconds=train_s)
    flow_links = {s.element for s in sensors.by_kind("flow")}
    leaks = draw_leaks(net, cfg, rng_leaks, t0_s=train_s, t1_s=total_s, exclude=flow_links)

    with Engine(net, pda=cfg.pda, start=start, flow_change_m3s=1e-6) as engine:
        engine.set_times(hydraulic_step_s=step, report_step_s=step)
        _perturb_network(engine, net, cfg, rng_net)
        _noisy_patterns(engine, cfg, total_s, rng_demand)
        for leak in leaks:
            engine.add_leak(leak)
        p_nodes = [s.element for s in sensors.by_kind("pressure")]
        d_nodes = [s.element for s in sensors.by_kind("demand")]
        junctions = [j for j in engine.junction_ids if not j.endswith("__leak")]
        node_cols = list(dict.fromkeys(p_nodes + d_nodes + [lk.node for lk in leaks] + junctions))
        res = engine.run(  # half-open period: days × steps/day rows
            total_s - step,
            report_step_s=step,
            nodes=node_cols,
            links=sorted(flow_links),
            progress=progress,
        )

    n = len(res.pressure_m)
    noise = rng_noise.normal
    pressure = res.pressure_m[p_nodes] + noise(0, cfg.pressure_noise_m, (n, len(p_nodes)))
    flows = [s.element for s in sensors.by_kind("flow")]
    flow = res.flow_m3s[flows] * (1 + noise(0, cfg.flow_noise_rel, (n, len(flows))))
    levels = [s.element for s in sensors.by_kind("level")]
    level = res.level_m[levels] + noise(0, cfg.level_noise_m, (n, len(levels)))
    demand = (res.demand_m3s[d_nodes] * (1 + noise(0, cfg.demand_noise_rel, (n, len(d_nodes))))).clip(
        lower=0
    )
    scada = ScadaData(pressure, flow, level, demand)
    faults = _apply_faults(scada, cfg, rng_faults, t_split)
    truth = _truth(leaks, res.leak_m3s, res.pressure_m, start, res.pressure_m.index[-1])

    # what customers really took (before meters): the basis of billing in a simulated city
    consumption = res.demand_m3s[junctions].resample("1D").sum() * step
    result = SimulationResult(scada, truth, faults, sensors, consumption.loc[:, consumption.sum() > 0])
    result.warnings = _distinct(res.warnings)
    n_customers = cfg.customers or (200 if cfg.customer_leaks + cfg.meter_faults else 0)
    if n_customers:
        homes = [
            str(j)
            for j in net.nodes.index[
                (net.nodes["type"] == "Junction") & (net.nodes["base_demand_m3s"] > 0)
            ]
        ]
        ccfg = CustomerConfig(customers=n_customers, leaks=cfg.customer_leaks, faults=cfg.meter_faults)
        rng_customers = np.random.default_rng(np.random.SeedSequence(cfg.seed).spawn(7)[6])
        result.customers = simulate_customers(
            homes, start, total_s // 3600, t_split, ccfg, rng_customers
        )
    if out is not None:
        _write(result, Path(out), net, cfg, t_split, train_s > 0)
    return result


def _distinct(notes: list[str], keep: int = 5) -> list[str]:
    """The first ``keep`` distinct warnings, and how many more there were."""
    unique = list(dict.fromkeys(notes))
    more = len(unique) - keep
    return unique[:keep] + ([f"… and {more} more warning(s)"] if more > 0 else [])


def _truth(
    leaks: list[Leak],
    leak_flow: pd.DataFrame,
    pressure: pd.DataFrame,
    start: pd.Timestamp,
    last: pd.Timestamp,
) -> pd.DataFrame:
    rows = []
    for lk in leaks:
        at = start + pd.to_timedelta([lk.start_s, lk.peak_s or lk.start_s], unit="s")
        end = start + pd.Timedelta(seconds=lk.end_s) if lk.end_s is not None else last
        rows.append(
            {
                "linkID": lk.pipe,
                "kind": lk.kind,
                "start": at[0],
                "peak": at[1],
                "end": end,
                "diameter_m": round(lk.diameter_m, 5),
                "peak_lps_at_30m": round(orifice_flow(lk.diameter_m, 30.0, lk.cd) * 1000, 3),
                "max_lps": round(float(leak_flow[lk.pipe].max()) * 1000, 3),
                "mean_pressure_m": round(float(pressure[lk.node].mean()), 2),
            }
        )
    cols = [
        "linkID",
        "kind",
        "start",
        "peak",
        "end",
        "diameter_m",
        "peak_lps_at_30m",
        "max_lps",
        "mean_pressure_m",
    ]
    return pd.DataFrame(rows, columns=cols).sort_values("start", ignore_index=True)


def _write(
    result: SimulationResult,
    out: Path,
    net: Network,
    cfg: SimulationConfig,
    t_split: pd.Timestamp,
    split: bool,
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    if split:
        files += write_battledim(out / "train", result.scada.slice(None, t_split))
        eval_dir = out / "eval"
        files += write_battledim(eval_dir, result.scada.slice(t_split, None))
    else:
        eval_dir = out
        files += write_battledim(out, result.scada)
    files.append(write_truth(eval_dir / "truth.csv", result.truth))
    faults = result.faults.copy()
    for col in ("start", "end"):
        faults[col] = (
            pd.DatetimeIndex(faults[col]).strftime("%Y-%m-%d %H:%M") if len(faults) else faults[col]
        )
    faults.to_csv(eval_dir / "faults.csv", index=False)
    files.append(eval_dir / "faults.csv")
    if result.customers is not None:
        cust = result.customers
        if split:
            files.append(write_customers(out / "train", cust.readings[cust.readings.index < t_split]))
            files.append(write_customers(eval_dir, cust.readings[cust.readings.index >= t_split]))
        else:
            files.append(write_customers(out, cust.readings))
        cust.customers.to_csv(out / "customers.csv", index=False)
        files.append(out / "customers.csv")
        files.append(write_customer_truth(eval_dir / "customer_truth.csv", cust.truth))
    sensors_path = out / "sensors.json"
    sensors_path.write_text(json.dumps(result.sensors.to_battledim(), indent=1) + "\n", encoding="utf-8")
    files.append(sensors_path)
    meta = {
        "generator": "tirta.hydraulics.simulate",
        "network": str(net.path),
        "network_sha256": hashlib.sha256(net.path.read_bytes()).hexdigest(),
        "config": {k: (asdict(v) if isinstance(v, PDA) else v) for k, v in asdict(cfg).items()},
        "train_until": t_split.strftime("%Y-%m-%d %H:%M") if split else None,
        "leaks": len(result.truth),
        "faults": len(result.faults),
        "customer_events": 0 if result.customers is None else len(result.customers.truth),
        "readings": result.n_readings,
    }
    (out / "scenario.json").write_text(json.dumps(meta, indent=1, default=str) + "\n", encoding="utf-8")
    files.append(out / "scenario.json")
    result.out = out
    result.files = files


def write_simulation(
    result: SimulationResult, out: str | Path, net: Network, cfg: SimulationConfig
) -> None:
    """Write a result computed without ``out`` (say on another machine) as :func:`simulate` would."""
    step = cfg.step_s
    train_s = round(cfg.train_days * 86400 / step) * step
    t_split = pd.Timestamp(cfg.start, tz="UTC") + pd.Timedelta(seconds=train_s)
    _write(result, Path(out), net, cfg, t_split, train_s > 0)
