"""Long CSV (``sensor,time,value,unit``) as raw records, for files and HTTP bodies alike.

Every cell stays text for the one validation (:mod:`tirta.telemetry.validate`); each record keeps its
``line``. A line with too few or too many fields is not a reason to refuse the file: it becomes a
record with ``error`` set (the validation quarantines it as a malformed row, its text as payload).
"""

from __future__ import annotations

import csv
import gzip
import json
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from tirta.errors import InputError
from tirta.telemetry.battledim import KIND_FILES
from tirta.telemetry.schema import RAW_COLUMNS

__all__ = ["long_csv", "malformed_records"]

Source = Path | bytes


def _name(source: Source) -> str | None:
    return str(source) if isinstance(source, Path) else None


def _first_line(source: Source) -> str:
    """The header line of a file or body (BOM and line end removed)."""
    if isinstance(source, bytes):
        head = source.split(b"\n", 1)[0]
        return head.decode("utf-8-sig", errors="replace").strip()
    opener = gzip.open if source.name.lower().endswith(".gz") else open
    try:
        with opener(source, "rt", encoding="utf-8-sig", errors="replace") as fh:
            return str(fh.readline()).strip()
    except OSError as exc:
        raise InputError(f"cannot read file: {exc}", file=source) from None


def _header(source: Source, required: tuple[str, ...]) -> list[str]:
    """Column names of a long CSV, checked: ``required`` present (any order, others allowed)."""
    first = _first_line(source)
    names = [c.strip().strip('"') for c in first.split(",")]
    lowered = [c.lower() for c in names]
    first_name = re.split(r"[;,\t]", first, maxsplit=1)[0].strip().strip('"').lower()
    if first_name in ("timestamp", "time") and "sensor" not in lowered:
        raise InputError(
            "this is a BattLeDIM table (Timestamp, one column per sensor): ingest the folder that "
            f"holds it ({', '.join(f + '.csv' for f in KIND_FILES.values())})",
            file=_name(source),
            line=1,
        )
    for col in required:
        if col not in lowered:
            raise InputError(
                f"header must name the columns {','.join(RAW_COLUMNS)}; '{col}' is missing",
                file=_name(source),
                line=1,
                field=col,
            )
    return names


def _read(source: Source, header: list[str], threads: bool) -> tuple[pa.Table, list[pacsv.InvalidRow]]:
    """All columns as text; rows with the wrong number of fields are skipped and kept (their line
    numbers are known only to the single-threaded reader)."""
    bad: list[pacsv.InvalidRow] = []

    def on_bad_row(row: pacsv.InvalidRow) -> str:
        bad.append(row)
        return "skip"

    try:
        table = pacsv.read_csv(
            pa.BufferReader(source) if isinstance(source, bytes) else source,
            read_options=pacsv.ReadOptions(use_threads=threads),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_bad_row, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in header}, strings_can_be_null=False
            ),
        )
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"cannot read CSV: {exc}", file=_name(source)) from None
    return table, bad


def malformed_records(
    lines: list[int],
    texts: list[str],
    errors: list[str],
    sensors: list[str] | None = None,
    file: str | None = None,
) -> pa.Table:
    """Records for lines that could not be split into fields: ``error`` says why, ``payload`` holds
    the line as received (JSON with its ``line``, ``file`` and ``text``); the validation quarantines
    them as malformed rows."""
    n = len(lines)
    where = {} if file is None else {"file": file}
    payloads = [
        json.dumps({**where, "line": str(line), "text": text}, ensure_ascii=False)
        for line, text in zip(lines, texts, strict=True)
    ]
    empty = pa.array([""] * n, pa.string())
    return pa.table(
        {
            "sensor": pa.array(sensors if sensors is not None else [""] * n, pa.string()),
            "time": empty,
            "value": empty,
            "unit": empty,
            "line": pa.array(lines, pa.int64()),
            "payload": pa.array(payloads, pa.string()),
            "error": pa.array(errors, pa.string()),
        }
    )


def _malformed(bad: list[pacsv.InvalidRow], header: list[str]) -> pa.Table:
    lowered = [h.lower() for h in header]
    lines, texts, errors, sensors = [], [], [], []
    for row in bad:  # only the malformed lines, few: the bulk stays vectorised
        expected, actual = row.expected_columns, row.actual_columns
        what = f"'{header[actual]}' missing" if actual < expected else f"extra text after '{header[-1]}'"
        fields = next(csv.reader([row.text or ""]), [])
        at = lowered.index("sensor")
        lines.append(int(row.number))
        texts.append(row.text or "")
        errors.append(f"expected {expected} fields ({','.join(header)}), got {actual}: {what}")
        sensors.append(fields[at].strip() if at < len(fields) else "")
    return malformed_records(lines, texts, errors, sensors)


def long_csv(source: Source, *, unit_required: bool = True) -> pa.Table:
    """Read sensor,time,value,unit rows as text (Arrow, all cores) with ``line``, the line number
    kept in quarantine payloads; malformed lines become records with ``error`` set. A body without a
    unit column (``unit_required`` false) gets empty units (quarantined as unit missing)."""
    required = RAW_COLUMNS if unit_required else ("sensor", "time", "value")
    header = _header(source, required)
    table, bad = _read(source, header, threads=True)
    if bad:
        table, bad = _read(source, header, threads=False)
    names = [c.strip().lower() for c in table.column_names]
    table = table.rename_columns(names)
    if "unit" not in names:
        table = table.append_column("unit", pa.array([""] * table.num_rows, pa.string()))
    table = table.select(list(RAW_COLUMNS))
    n_lines = table.num_rows + len(bad)
    lines = np.arange(2, n_lines + 2, dtype=np.int64)
    if bad:  # the lines of the good rows are those no malformed row took
        lines = np.setdiff1d(lines, np.array([row.number for row in bad], dtype=np.int64))
    table = table.append_column("line", pa.array(lines[: table.num_rows]))
    blank = pc.and_(
        pc.and_(pc.equal(table["sensor"], ""), pc.equal(table["time"], "")),
        pc.and_(pc.equal(table["value"], ""), pc.equal(table["unit"], "")),
    )
    if pc.any(blank).as_py():  # an empty line is no reading
        table = table.filter(pc.invert(blank))
    if bad:
        nulls = pa.nulls(table.num_rows, pa.string())
        table = table.append_column("payload", nulls).append_column("error", nulls)
        table = pa.concat_tables([table, _malformed(bad, header)])
    return table
