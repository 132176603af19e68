"""File ingestion: BattLeDIM folders and workbooks, long CSV and Parquet (sensor, time, value, unit).

Files are read whole into one frame of raw records (no loop per reading) and committed in one
transaction, so re-running a file adds nothing and a failure leaves the store as it was.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from tirta.errors import InputError
from tirta.network.sensors import KINDS, Sensor, battledim_sensor_id, load_sensors, make_sensor
from tirta.telemetry.battledim import KIND_FILES, LAYOUT_UNITS, read_battledim
from tirta.telemetry.ingest.records import ingest_records
from tirta.telemetry.schema import RAW_COLUMNS, IngestResult, Progress
from tirta.telemetry.store.base import Store

__all__ = ["FileRecords", "ingest_file", "read_file"]

_SI_UNIT = {"pressure": "m", "level": "m", "flow": "m3/s"}
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
        return _battledim(p)
    if not p.exists():
        raise InputError("no such file or folder", file=p)
    if name.endswith(_CSV_SUFFIXES):
        return FileRecords(_long_csv(p), str(p))
    if name.endswith(_PARQUET_SUFFIXES):
        return FileRecords(_parquet(p), str(p))
    raise InputError(
        "unknown file type; expected a BattLeDIM folder, .xlsx, long .csv (sensor,time,value,unit) "
        "or .parquet",
        file=p,
    )


def ingest_file(
    store: Store,
    path: str | Path,
    *,
    sensors_file: str | Path | None = None,
    progress: Progress | None = None,
    now: pd.Timestamp | None = None,
) -> IngestResult:
    """Ingest one file into ``store``; register sensors from ``sensors_file`` and the file's layout."""
    if sensors_file is not None:
        store.add_sensors(load_sensors(sensors_file), replace=True)
    data = read_file(path)
    if data.sensors:
        store.add_sensors(data.sensors)
    return ingest_records(store, data.records, source=data.source, now=now, progress=progress)


# --- BattLeDIM ------------------------------------------------------------------------------------
def _battledim(path: Path) -> FileRecords:
    scada = read_battledim(path)
    parts: list[pd.DataFrame] = []
    sensors: list[Sensor] = []
    for kind, frame in scada.items():
        if frame.empty:
            continue
        quantity = KINDS[kind][0]
        columns = [str(c) for c in frame.columns]
        ids = np.array([battledim_sensor_id(kind, c) for c in columns], dtype=object)
        where = "node" if KINDS[kind][3] == "node" else "link"
        sensors += [
            make_sensor(
                {"id": sid, "kind": kind, "unit": LAYOUT_UNITS[kind], where: col}, file=str(path)
            )
            for sid, col in zip(ids, columns, strict=True)
        ]
        values = frame.to_numpy(dtype=float)
        present = ~np.isnan(values).ravel()  # an empty cell is no reading, not a bad one
        n_rows, n_cols = values.shape
        times = pd.DatetimeIndex(frame.index)
        parts.append(
            pd.DataFrame(
                {
                    "sensor": np.tile(ids, n_rows)[present],
                    "time": times.repeat(n_cols)[present],
                    "value": values.ravel()[present],
                    "unit": _SI_UNIT[quantity],
                    "file": KIND_FILES[kind],
                }
            )
        )
    records = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(RAW_COLUMNS))
    return FileRecords(records, str(path), sensors)


# --- long CSV -------------------------------------------------------------------------------------
def _read_csv(
    path: Path, header: list[str], threads: bool
) -> tuple[pa.Table, list[tuple[int, int, int]]]:
    """All columns as text; rows with the wrong number of fields are skipped and listed (line numbers
    are known only to the single-threaded reader)."""
    bad: list[tuple[int, int, int]] = []

    def on_bad_row(row: pacsv.InvalidRow) -> str:
        bad.append((row.number, row.expected_columns, row.actual_columns))
        return "skip"

    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=threads),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_bad_row, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in header}, strings_can_be_null=False
            ),
        )
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"cannot read CSV: {exc}", file=path) from None
    return table, bad


def _long_csv(path: Path) -> pa.Table:
    """Read sensor,time,value,unit rows as text (Arrow, all cores); a line with the wrong number of
    fields is an error naming the line. Adds ``line``, the line number kept in quarantine payloads."""
    header = _header(path)
    table, bad = _read_csv(path, header, threads=True)
    if bad:
        _, bad = _read_csv(path, header, threads=False)
        line, expected, actual = bad[0]
        missing = header[actual] if actual < expected else None
        what = f"'{missing}' missing" if missing else f"extra text after '{header[-1]}'"
        raise InputError(
            f"expected {expected} fields ({','.join(header)}), got {actual}: {what}",
            file=path,
            line=line,
            field=missing or header[-1],
        )
    names = [c.strip().lower() for c in table.column_names]
    table = table.rename_columns(names).select(list(RAW_COLUMNS))
    table = table.append_column("line", pa.array(np.arange(2, table.num_rows + 2, dtype=np.int64)))
    blank = pc.and_(
        pc.and_(pc.equal(table["sensor"], ""), pc.equal(table["time"], "")),
        pc.and_(pc.equal(table["value"], ""), pc.equal(table["unit"], "")),
    )
    if pc.any(blank).as_py():  # an empty line is no reading
        table = table.filter(pc.invert(blank))
    return table


def _header(path: Path) -> list[str]:
    """Column names of a long CSV, checked: sensor, time, value, unit (any order, others allowed)."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", errors="replace") as fh:
            first = fh.readline().strip()
    except OSError as exc:
        raise InputError(f"cannot read file: {exc}", file=path) from None
    names = [c.strip().strip('"') for c in first.split(",")]
    lowered = [c.lower() for c in names]
    first_name = re.split(r"[;,\t]", first, maxsplit=1)[0].strip().strip('"').lower()
    if first_name in ("timestamp", "time") and "sensor" not in lowered:
        raise InputError(
            "this is a BattLeDIM table (Timestamp, one column per sensor): ingest the folder that "
            f"holds it ({', '.join(f + '.csv' for f in KIND_FILES.values())})",
            file=path,
            line=1,
        )
    for col in RAW_COLUMNS:
        if col not in lowered:
            raise InputError(
                f"header must name the columns {','.join(RAW_COLUMNS)}; '{col}' is missing",
                file=path,
                line=1,
                field=col,
            )
    return names


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
