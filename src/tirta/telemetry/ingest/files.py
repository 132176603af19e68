"""File ingestion: BattLeDIM folders and workbooks, long CSV and Parquet (sensor, time, value, unit).

Files are read whole into one frame of raw records (no loop per reading) and committed in one
transaction, so re-running a file adds nothing and a failure leaves the store as it was. Every
format goes through the same validation: a bad cell or row is quarantined with its text, line and
reason, the good rest is stored. A BattLeDIM column registers its sensor only when it names a node
or link of the configured network; any other unregistered sensor is quarantined.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from tirta.errors import InputError
from tirta.network.model import Network
from tirta.network.sensors import Sensor, load_sensors
from tirta.telemetry.ingest.longcsv import long_csv
from tirta.telemetry.ingest.records import ingest_records
from tirta.telemetry.ingest.wide import battledim_records
from tirta.telemetry.schema import RAW_COLUMNS, IngestResult, Progress
from tirta.telemetry.store.base import Store

__all__ = ["FileRecords", "in_network", "ingest_file", "read_file"]

_CSV_SUFFIXES = (".csv", ".csv.gz", ".txt", ".tsv")
_PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass
class FileRecords:
    """Raw records read from a file, and the sensors its layout declares (BattLeDIM columns)."""

    records: pd.DataFrame | pa.Table
    source: str
    sensors: list[Sensor] = field(default_factory=list)


def read_file(path: str | Path) -> FileRecords:
    """Read a BattLeDIM folder or ``.xlsx``, a long ``.csv`` or a ``.parquet`` file as raw records."""
    p = Path(path)
    name = p.name.lower()
    if p.is_dir() or name.endswith((".xlsx", ".xlsm")):
        records, sensors = battledim_records(p)
        return FileRecords(records, str(p), sensors)
    if not p.exists():
        raise InputError("no such file or folder", file=p)
    if name.endswith(_CSV_SUFFIXES):
        return FileRecords(long_csv(p), str(p))
    if name.endswith(_PARQUET_SUFFIXES):
        return FileRecords(_parquet(p), str(p))
    raise InputError(
        "unknown file type; expected a BattLeDIM folder, .xlsx, long .csv (sensor,time,value,unit) "
        "or .parquet",
        file=p,
    )


def in_network(sensors: list[Sensor], network: Network | None) -> list[Sensor]:
    """The sensors whose node or link is an element of ``network`` (none without a network)."""
    if network is None:
        return []
    nodes, links = set(network.nodes.index), set(network.links.index)
    return [s for s in sensors if (s.node in nodes if s.node is not None else s.link in links)]


def ingest_file(
    store: Store,
    path: str | Path,
    *,
    sensors_file: str | Path | None = None,
    network: Network | None = None,
    progress: Progress | None = None,
    now: pd.Timestamp | None = None,
) -> IngestResult:
    """Ingest one file into ``store``; register sensors from ``sensors_file`` (checked against
    ``network`` when given) and the BattLeDIM columns that name a node or link of ``network``."""
    if sensors_file is not None:
        store.add_sensors(load_sensors(sensors_file, network), replace=True)
    data = read_file(path)
    known = {s.id for s in store.sensors()} if data.sensors else set()
    new = [s for s in in_network(data.sensors, network) if s.id not in known]
    if new:
        store.add_sensors(new)
    return ingest_records(store, data.records, source=data.source, now=now, progress=progress)


# --- Parquet ----------------------------------------------------------------------------------------
def _parquet(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises many types for corrupt files
        raise InputError(f"cannot read Parquet file: {exc}", file=path) from None
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    for col in RAW_COLUMNS:
        if col not in frame.columns:
            raise InputError(
                f"Parquet file must have the columns {','.join(RAW_COLUMNS)}", file=path, field=col
            )
    return frame[list(RAW_COLUMNS)].assign(row=np.arange(1, len(frame) + 1))
