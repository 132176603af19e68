"""The BattLeDIM layout as raw records: one text record per non-empty cell, for the one validation.

A wide table (``Timestamp`` then one column per sensor, layout units) is unpivoted time-major in Arrow
(no loop per cell) into ``sensor, time, value, unit, file, line`` with the cells as received, so a
text cell, ``NaN`` or a bad timestamp is quarantined like the same fault in a long CSV and the good
rest is stored. A line with the wrong number of fields becomes one malformed-row record.
"""

from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from tirta.errors import InputError
from tirta.network.sensors import KINDS, Sensor, battledim_sensor_id, make_sensor
from tirta.telemetry.battledim import KIND_FILES, LAYOUT_UNITS
from tirta.telemetry.ingest.longcsv import malformed_records

__all__ = ["WideTable", "battledim_records", "read_wide"]

# a number written with a decimal comma, rewritten with a point; any other text stays as received
_DECIMAL_COMMA = r"^(\s*[-+]?[0-9]*),([0-9]+(?:[eE][-+]?[0-9]+)?\s*)$"
_TIME_NAMES = ("timestamp", "time", "t")


@dataclass
class WideTable:
    """One BattLeDIM table as received: ``cells`` (text, null for an empty cell; times first, then one
    column per sensor), the ``lines`` of its rows, and malformed lines as records."""

    kind: str
    file: str
    cells: pa.Table
    lines: np.ndarray
    malformed: pa.Table | None = None


def _sniff(path: Path) -> tuple[str, str, str, list[str]]:
    """(separator, decimal mark, encoding, column names) from the header and the first data line."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            head = fh.read(65536)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise InputError(f"cannot read file: {exc}", file=path) from None
    try:
        text, encoding = head.decode("utf-8-sig"), "utf8"
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the end of the sample
            text, encoding = head.decode("latin-1"), "latin1"
        else:
            text, encoding = head[: exc.start].decode("utf-8-sig"), "utf8"
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise InputError("file is empty", file=path, line=1)
    header = lines[0]
    sep = ";" if ";" in header else ("\t" if "\t" in header else ",")
    decimal = "."
    if (
        sep != ","
        and len(lines) > 1
        and any(
            c.strip().replace(",", "", 1).replace("-", "", 1).isdigit() and "," in c
            for c in lines[1].split(sep)[1:]
        )
    ):
        decimal = ","
    names = [c.strip() for c in next(csv.reader([header], delimiter=sep), [])]
    return sep, decimal, encoding, names


def _check_header(names: list[str], file: str) -> None:
    if not names or names[0].lower() not in _TIME_NAMES:
        raise InputError(
            "first column must be 'Timestamp'", file=file, line=1, field=names[0] if names else None
        )
    seen: set[str] = set()
    for name in names[1:]:
        if name in seen:
            raise InputError("duplicate sensor column", file=file, line=1, field=name)
        seen.add(name)


def _read_csv(path: Path, kind: str) -> WideTable:
    sep, decimal, encoding, names = _sniff(path)
    _check_header(names, str(path))
    auto = [f"f{i}" for i in range(len(names))]

    def read(threads: bool) -> tuple[pa.Table, list[pacsv.InvalidRow]]:
        bad: list[pacsv.InvalidRow] = []

        def on_bad_row(row: pacsv.InvalidRow) -> str:
            bad.append(row)
            return "skip"

        try:
            table = pacsv.read_csv(
                path,
                read_options=pacsv.ReadOptions(
                    use_threads=threads, encoding=encoding, column_names=auto, skip_rows=1
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=sep, invalid_row_handler=on_bad_row, ignore_empty_lines=False
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types={c: pa.string() for c in auto},
                    null_values=[""],
                    strings_can_be_null=True,
                ),
            )
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"cannot read CSV: {exc}", file=path) from None
        return table, bad

    table, bad = read(threads=True)
    if bad:  # line numbers are known to the single-threaded reader only
        table, bad = read(threads=False)
    table = table.rename_columns(names)
    # every line after the header is a row (an empty line too: no reading) or an invalid row
    taken = np.array([row.number for row in bad], dtype=np.int64)
    lines = np.setdiff1d(np.arange(2, table.num_rows + len(bad) + 2, dtype=np.int64), taken)
    bad = [row for row in bad if (row.text or "").strip()]
    malformed = None
    if bad:
        malformed = malformed_records(
            [int(row.number) for row in bad],
            [row.text or "" for row in bad],
            [
                f"expected {row.expected_columns} fields (Timestamp and {row.expected_columns - 1} "
                f"sensors), got {row.actual_columns}"
                for row in bad
            ],
            file=path.name,
        )
    if decimal == ",":
        table = pa.table(
            [table.column(0)]
            + [pc.replace_substring_regex(c, _DECIMAL_COMMA, r"\1.\2") for c in table.columns[1:]],
            names=names,
        )
    return WideTable(kind, path.name, table, lines[: table.num_rows], malformed)


def _read_workbook(path: Path) -> list[WideTable]:
    try:
        sheets = pd.read_excel(path, sheet_name=None, dtype=str, keep_default_na=False)
    except Exception as exc:  # openpyxl raises many types for corrupt files
        raise InputError(f"cannot read workbook: {exc}", file=path) from None
    out = []
    for kind, stem in KIND_FILES.items():
        match = [name for name in sheets if name.strip().lower().startswith(stem.lower())]
        if not match:
            continue
        sheet = sheets[match[0]]
        names = [str(c).strip() for c in sheet.columns]
        label = f"{path.name}[{match[0]}]"
        _check_header(names, label)
        cells = pa.table(
            [pa.array(sheet.iloc[:, i].replace("", None), pa.string()) for i in range(len(names))],
            names=names,
        )
        out.append(WideTable(kind, label, cells, np.arange(2, len(sheet) + 2, dtype=np.int64)))
    if not out:
        raise InputError("no Pressures, Flows, Levels or Demands sheet found", file=path)
    return out


def _find(folder: Path, stem: str) -> Path | None:
    for name in (f"{stem}.csv", f"{stem}.csv.gz"):
        for candidate in folder.iterdir():
            if candidate.name.lower() == name.lower():
                return candidate
    return None


def read_wide(path: Path) -> list[WideTable]:
    """The tables of a BattLeDIM folder (CSV or CSV.gz) or workbook (``.xlsx``), cells as text."""
    if path.is_dir():
        tables = []
        for kind, stem in KIND_FILES.items():
            found = _find(path, stem)
            if found is not None:
                tables.append(_read_csv(found, kind))
        if not tables:
            raise InputError(
                "no BattLeDIM files found; expected Pressures.csv, Flows.csv, Levels.csv or Demands.csv",
                file=path,
            )
        return tables
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return _read_workbook(path)
    if not path.exists():
        raise InputError("no such file or folder", file=path)
    raise InputError("expected a BattLeDIM folder or an .xlsx workbook", file=path)


def _filled(n: int, text: str) -> pa.Array:
    return pa.nulls(n, pa.string()).fill_null(text)


def _long(wide: WideTable, ids: list[str]) -> pa.Table:
    """The non-empty cells of a wide table, time-major: sensor, time, value, unit, file, line."""
    cells, n_rows = wide.cells, wide.cells.num_rows
    n_cols = len(ids)
    if n_rows == 0 or n_cols == 0:
        values = pa.array([], pa.string())
        order = np.zeros(0, dtype=np.int64)
    else:
        values = pa.concat_arrays([c.combine_chunks() for c in cells.columns[1:]])  # column-major
        present = values.is_valid().to_numpy(zero_copy_only=False)
        order = (np.arange(n_cols, dtype=np.int64) * n_rows + np.arange(n_rows)[:, None]).ravel()
        order = order[present[order]]
    rows, cols = order % max(n_rows, 1), order // max(n_rows, 1)
    sensor = pa.DictionaryArray.from_arrays(pa.array(cols.astype(np.int32)), pa.array(ids, pa.string()))
    times = cells.column(0).combine_chunks()
    n = len(order)
    return pa.table(
        {
            "sensor": sensor.cast(pa.string()),
            "time": times.take(pa.array(rows)),
            "value": values.take(pa.array(order)),
            "unit": _filled(n, LAYOUT_UNITS[wide.kind]),
            "file": _filled(n, wide.file),
            "line": pa.array(wide.lines[rows]),
        }
    )


def battledim_records(path: Path) -> tuple[pa.Table, list[Sensor]]:
    """Raw records of a BattLeDIM folder or workbook and the sensors its columns declare (ids as
    :func:`tirta.network.sensors.battledim_sensor_id`, on the node or link the column names)."""
    parts: list[pa.Table] = []
    sensors: list[Sensor] = []
    malformed = False
    for wide in read_wide(path):
        columns = wide.cells.column_names[1:]
        ids = [battledim_sensor_id(wide.kind, c) for c in columns]
        where = "node" if KINDS[wide.kind][3] == "node" else "link"
        sensors += [
            make_sensor({"id": sid, "kind": wide.kind, "unit": LAYOUT_UNITS[wide.kind], where: col})
            for sid, col in zip(ids, columns, strict=True)
        ]
        parts.append(_long(wide, ids))
        if wide.malformed is not None:
            bad = wide.malformed.append_column("file", _filled(wide.malformed.num_rows, wide.file))
            parts.append(
                bad.select(["sensor", "time", "value", "unit", "file", "line", "payload", "error"])
            )
            malformed = True
    if malformed:
        parts = [
            p if "error" in p.column_names else
            p.append_column("payload", pa.nulls(p.num_rows, pa.string()))
             .append_column("error", pa.nulls(p.num_rows, pa.string()))
            for p in parts
        ]  # fmt: skip
    return pa.concat_tables(parts), sensors
