"""The demo city: L-Town with its DMAs and sensors, four weeks of IoT telemetry, three hidden leaks.

``make demo`` runs :func:`build_demo_city` through ``tirta demo``: the simulated telemetry is written
in the BattLeDIM layout and loaded into an embedded store by the same ingestion code as any file.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tirta.hydraulics.simulate import SimulationConfig, SimulationResult, simulate
from tirta.network import DMA, Network, load_dmas, load_network, load_sensors
from tirta.network.dma import node_to_dma
from tirta.network.model import builtin_network_path
from tirta.telemetry.ingest import ingest_file
from tirta.telemetry.schema import IngestResult
from tirta.telemetry.store import open_store

__all__ = ["DemoCity", "build_demo_city"]


@dataclass
class DemoCity:
    """What the demo built: the network, its DMAs, the simulated telemetry and where it lives."""

    network: Network
    dmas: list[DMA]
    result: SimulationResult
    city_dir: Path
    telemetry_dir: Path
    billing: Path | None = None
    store_url: str | None = None
    ingested: IngestResult | None = None


METER_UNDER_REGISTRATION = 0.03  # customer meters record 3 % less than customers take (apparent loss)


def write_billing(path: Path, result: SimulationResult, dmas: list[DMA]) -> Path:
    """Bill every demand node as one metered account per calendar month from what it really consumed,
    less meter under-registration, so the demo's water balance has billing data to work with.

    Months the simulation covers only in part are billed as whole months at the same daily rate."""
    owner = node_to_dma(dmas)
    daily = result.consumption_m3
    # a bill covers the whole calendar month: scale months the simulation covers only in part
    covered = daily.iloc[:, 0].resample("MS").count()
    full = pd.Series(covered.index.days_in_month, index=covered.index)
    monthly = daily.resample("MS").sum().mul(full / covered, axis=0)
    rows = monthly.stack().rename("m3").reset_index()
    rows.columns = ["time", "account", "m3"]
    frame = pd.DataFrame(
        {
            "account": rows["account"],
            "dma": rows["account"].map(owner),
            "period": pd.DatetimeIndex(rows["time"]).strftime("%Y-%m"),
            "billed_m3": (rows["m3"] * (1.0 - METER_UNDER_REGISTRATION)).round(3),
            "metered": "yes",
        }
    )
    frame.dropna(subset=["dma"]).to_csv(path, index=False)
    return path


def build_demo_city(
    out: str | Path,
    *,
    days: float = 28.0,
    leaks: int = 3,
    seed: int = 42,
    faults: int = 2,
    store: bool = True,
    progress: Callable[[int, int], None] | None = None,
    ingest_progress: Callable[[int, int], None] | None = None,
) -> DemoCity:
    """Copy the L-Town model, DMAs and sensors to ``out/city``, simulate ``out/telemetry`` and, with
    ``store``, load it into a fresh ``out/tirta.duckdb`` through the same ingestion as any file."""
    root = Path(out)
    city = root / "city"
    city.mkdir(parents=True, exist_ok=True)
    src = builtin_network_path("l-town")
    for name in ("L-TOWN.inp", "L-TOWN.dmas.toml", "sensors.json", "README.md"):
        shutil.copy2(src.with_name(name), city / name)
    net = load_network(city / "L-TOWN.inp")
    dmas = load_dmas(city / "L-TOWN.dmas.toml", net)
    sensors = load_sensors(city / "sensors.json", net)
    telemetry = root / "telemetry"
    if telemetry.exists():
        shutil.rmtree(telemetry)
    cfg = SimulationConfig(days=days, leaks=(leaks, leaks), seed=seed, faults=faults)
    result = simulate(net, cfg, sensors=sensors, out=telemetry, progress=progress)
    demo = DemoCity(
        net, dmas, result, city, telemetry, billing=write_billing(city / "billing.csv", result, dmas)
    )
    if store:
        path = root / "tirta.duckdb"
        for stale in (path, path.with_name(path.name + ".wal")):
            stale.unlink(missing_ok=True)  # a demo is rebuilt from scratch, never mixed with an old one
        demo.store_url = f"duckdb:///{path.resolve()}"
        with open_store(demo.store_url) as st:
            demo.ingested = ingest_file(
                st, telemetry, sensors_file=city / "sensors.json", progress=ingest_progress
            )
    return demo
