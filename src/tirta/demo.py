"""The demo city: L-Town with its DMAs and sensors, four weeks of IoT telemetry, three hidden leaks.

``make demo`` runs :func:`build_demo_city` through ``tirta demo``: the simulated telemetry is written
in the BattLeDIM layout and loaded into an embedded store by the same ingestion code as any file.
The first days are leak-free (the calibration window of leak detection); the leaks start after it.
A second build with the same parameters reuses what the first one wrote (``demo.json`` says what).
"""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from tirta.errors import InputError
from tirta.hydraulics.simulate import SimulationConfig, SimulationResult, simulate
from tirta.network import DMA, Network, load_dmas, load_network, load_sensors
from tirta.network.dma import node_to_dma
from tirta.network.model import builtin_network_path
from tirta.telemetry.battledim import read_battledim, read_truth, write_battledim, write_truth
from tirta.telemetry.ingest import ingest_file
from tirta.telemetry.schema import IngestResult
from tirta.telemetry.store import open_store

if TYPE_CHECKING:
    from tirta.api.settings import ApiSettings
    from tirta.server import Runtime

__all__ = ["DEMO_START", "DemoCity", "LiveDemo", "build_demo_city", "calibration_days", "live_demo"]

DEMO_START = "2021-01-01"
DEMO_VERSION = 2  # bump when the scenario changes, so older demo folders are rebuilt


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
    calibration: tuple[pd.Timestamp, pd.Timestamp] | None = None  # leak-free [start, end)
    reused: bool = False  # read back from an earlier build with the same parameters


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


def calibration_days(days: float, wanted: float = 7.0) -> float:
    """The leak-free calibration of a ``days``-long demo: ``wanted`` days, at most a third of it, at
    least one day (what detection needs) and never all of it."""
    calib = min(wanted, max(1.0, days / 3.0))
    if days - calib < 0.5:
        raise InputError(
            f"the demo needs at least {calib + 0.5:g} days ({calib:g} leak-free for calibration)",
            field="--days",
        )
    return calib


def _write_telemetry(folder: Path, result: SimulationResult, meta: dict[str, Any]) -> None:
    """The BattLeDIM folder of the demo: one period (calibration and leaks), truth, faults, sensors."""
    write_battledim(folder, result.scada)
    write_truth(folder / "truth.csv", result.truth)
    faults = result.faults.copy()
    for col in ("start", "end"):
        faults[col] = (
            pd.DatetimeIndex(faults[col]).strftime("%Y-%m-%d %H:%M") if len(faults) else faults[col]
        )
    faults.to_csv(folder / "faults.csv", index=False)
    sensors = json.dumps(result.sensors.to_battledim(), indent=1)
    (folder / "sensors.json").write_text(sensors + "\n", encoding="utf-8")
    (folder / "scenario.json").write_text(
        json.dumps(meta, indent=1, default=str) + "\n", encoding="utf-8"
    )


def _read_back(folder: Path, net: Network) -> SimulationResult:
    """The simulation result of an earlier build, from its files (no daily consumption: billing exists)."""
    faults = pd.read_csv(folder / "faults.csv")
    for col in ("start", "end"):
        faults[col] = pd.to_datetime(faults[col], utc=True)
    return SimulationResult(
        scada=read_battledim(folder),
        truth=read_truth(folder / "truth.csv"),
        faults=faults,
        sensors=load_sensors(folder / "sensors.json", net),
        out=folder,
    )


def _manifest(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def build_demo_city(
    out: str | Path,
    *,
    days: float = 28.0,
    leaks: int = 3,
    seed: int = 42,
    faults: int = 2,
    store: bool = True,
    calibration: float = 7.0,
    reuse: bool = True,
    progress: Callable[[int, int], None] | None = None,
    ingest_progress: Callable[[int, int], None] | None = None,
) -> DemoCity:
    """Copy the L-Town model, DMAs and sensors to ``out/city``, simulate ``out/telemetry`` (leak-free
    for the first :func:`calibration_days`) and, with ``store``, load it into a fresh
    ``out/tirta.duckdb`` through the same ingestion as any file. With ``reuse``, an earlier build of
    the same parameters is read back instead of simulated again."""
    root = Path(out)
    city = root / "city"
    city.mkdir(parents=True, exist_ok=True)
    calib = calibration_days(days, calibration)
    params = {
        "version": DEMO_VERSION, "days": days, "leaks": leaks, "seed": seed, "faults": faults,
        "calibration_days": calib, "start": DEMO_START,
    }  # fmt: skip
    manifest_path = root / "demo.json"
    manifest = _manifest(manifest_path) if reuse else {}
    telemetry = root / "telemetry"
    reused = manifest.get("params") == params and (telemetry / "truth.csv").is_file()
    t0 = pd.Timestamp(DEMO_START, tz="UTC")
    t_calib = t0 + pd.Timedelta(seconds=round(calib * 86400 / 300) * 300)
    if not reused:
        manifest_path.unlink(missing_ok=True)  # a half-done build is never reused
        src = builtin_network_path("l-town")
        for name in ("L-TOWN.inp", "L-TOWN.dmas.toml", "sensors.json", "README.md"):
            shutil.copy2(src.with_name(name), city / name)
    net = load_network(city / "L-TOWN.inp")
    dmas = load_dmas(city / "L-TOWN.dmas.toml", net)
    if reused:
        result = _read_back(telemetry, net)
        billing = city / "billing.csv"
    else:
        sensors = load_sensors(city / "sensors.json", net)
        if telemetry.exists():
            shutil.rmtree(telemetry)
        cfg = SimulationConfig(
            days=days - calib, train_days=calib, leaks=(leaks, leaks), seed=seed, faults=faults,
            start=DEMO_START,
        )  # fmt: skip
        result = simulate(net, cfg, sensors=sensors, progress=progress)
        meta = {
            "generator": "tirta.demo",
            "config": {k: v for k, v in asdict(cfg).items() if k != "pda"},
            "calibration": [t0.isoformat(), t_calib.isoformat()],
            "leaks": len(result.truth),
            "faults": len(result.faults),
            "readings": result.n_readings,
        }
        telemetry.mkdir(parents=True)
        _write_telemetry(telemetry, result, meta)
        billing = write_billing(city / "billing.csv", result, dmas)
    demo = DemoCity(
        net, dmas, result, city, telemetry, billing=billing, calibration=(t0, t_calib), reused=reused
    )
    if store:
        path = root / "tirta.duckdb"
        demo.store_url = f"duckdb:///{path.resolve()}"
        counts = manifest.get("ingested") if reused else None
        if counts and path.is_file():
            demo.ingested = IngestResult(**counts)
        else:
            for stale in (path, path.with_name(path.name + ".wal")):
                stale.unlink(missing_ok=True)  # a demo is rebuilt from scratch, never mixed
            with open_store(demo.store_url) as st:
                demo.ingested = ingest_file(
                    st, telemetry, sensors_file=city / "sensors.json", progress=ingest_progress
                )
    done: dict[str, Any] = {"params": params}
    if demo.ingested is not None:
        done["ingested"] = asdict(demo.ingested)
    manifest_path.write_text(json.dumps(done, indent=1) + "\n", encoding="utf-8")
    return demo


@dataclass
class LiveDemo:
    """The demo served live: API settings over a fresh store, the runtime replaying the telemetry and
    the demo users' API keys (printed once)."""

    settings: ApiSettings
    runtime: Runtime
    keys: dict[str, str]  # user name → API key
    passwords: dict[str, str]  # user name → dashboard password, new for every live demo


DEMO_USERS = {"demo-operator": "operator", "demo-admin": "admin"}


def live_demo(
    city: DemoCity, *, speed: float = 2880.0, detect_every: str | float = "10s", tick_s: float = 1.0
) -> LiveDemo:
    """Prepare serving ``city``: a fresh ``live.duckdb`` next to it, the demo users, and a runtime that
    loads the calibration window at once, then replays the rest ``speed`` times faster than real time
    through the ordinary ingestion while detection runs every ``detect_every`` (wall time)."""
    from tirta.api.settings import api_settings
    from tirta.api.users import UserStore
    from tirta.server import Replay, Runtime, runtime_settings
    from tirta.telemetry.ingest import read_file

    if city.calibration is None:
        raise InputError("the demo city has no calibration window", field="calibration")
    root = city.city_dir.parent
    store_path = (root / "live.duckdb").resolve()
    users_db = root / "live.users.sqlite"
    for stale in (store_path, store_path.with_name(store_path.name + ".wal"), users_db):
        stale.unlink(missing_ok=True)  # every live demo starts from the calibration window again
    settings = api_settings(
        store_url=f"duckdb:///{store_path}",
        users_db=users_db,
        network=city.city_dir / "L-TOWN.inp",
        dmas=city.city_dir / "L-TOWN.dmas.toml",
        billing=city.billing,
        env={},
    )
    users = UserStore(users_db)
    keys = {name: users.add_user(name, role) for name, role in DEMO_USERS.items()}
    passwords = {name: secrets.token_urlsafe(9) for name in DEMO_USERS}
    for name, password in passwords.items():
        users.set_password(name, password)
    data = read_file(city.telemetry_dir)
    sensors = list(load_sensors(city.city_dir / "sensors.json", city.network))
    known = {s.id for s in sensors}
    sensors += [s for s in data.sensors if s.id not in known]
    replay = Replay(
        None, data.records, start=city.calibration[1], speed=speed,
        source=f"replay:{city.telemetry_dir}", tick_s=tick_s, sensors=sensors,
    )  # fmt: skip
    cfg = runtime_settings(
        detect_every=detect_every, train=city.calibration, env={},
        detect_window_days=0.0, billing=city.billing,
    )  # fmt: skip
    return LiveDemo(settings, Runtime(cfg, replay=replay), keys, passwords)
