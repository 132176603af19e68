"""The BattLeDIM layout, the de-facto exchange format of leak benchmark SCADA data.

A folder with ``Pressures.csv``, ``Flows.csv``, ``Levels.csv`` and ``Demands.csv`` (``;``-separated,
first column ``Timestamp`` as ``YYYY-MM-DD HH:MM``, one column per sensor; pressures and levels in m,
flows in m³/h, AMR demands in L/h), or one ``.xlsx`` workbook with a sheet per kind. Readers accept a
decimal point or comma and ``.csv.gz``; everything is converted to SI (m, m³/s) and UTC on reading.
"""

from __future__ import annotations

import gzip
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from tirta.errors import InputError
from tirta.units import parse_unit

__all__ = [
    "KIND_FILES",
    "LAYOUT_UNITS",
    "ScadaData",
    "read_battledim",
    "read_truth",
    "write_battledim",
    "write_truth",
]

KIND_FILES: dict[str, str] = {
    "pressure": "Pressures",
    "flow": "Flows",
    "level": "Levels",
    "demand": "Demands",
}
LAYOUT_UNITS: dict[str, str] = {"pressure": "m", "flow": "m3/h", "level": "m", "demand": "L/h"}
_QUANTITY = {"pressure": "pressure", "flow": "flow", "level": "level", "demand": "flow"}
TIME_FORMAT = "%Y-%m-%d %H:%M"
TRUTH_COLUMNS = ["linkID", "kind", "start", "peak", "end", "diameter_m"]


def _factor(kind: str) -> float:
    return parse_unit(LAYOUT_UNITS[kind], _QUANTITY[kind]).factor


@dataclass
class ScadaData:
    """Readings by kind in SI: frames with a UTC time index and one column per sensor element.

    ``pressure`` m, ``flow`` m³/s, ``level`` m, ``demand`` (AMR) m³/s.
    """

    pressure: pd.DataFrame = field(default_factory=pd.DataFrame)
    flow: pd.DataFrame = field(default_factory=pd.DataFrame)
    level: pd.DataFrame = field(default_factory=pd.DataFrame)
    demand: pd.DataFrame = field(default_factory=pd.DataFrame)

    def items(self) -> Iterator[tuple[str, pd.DataFrame]]:
        for kind in KIND_FILES:
            yield kind, getattr(self, kind)

    @property
    def index(self) -> pd.DatetimeIndex:
        for _, frame in self.items():
            if len(frame.index):
                return pd.DatetimeIndex(frame.index)
        return pd.DatetimeIndex([], tz="UTC")

    def n_readings(self) -> int:
        """Number of non-missing values over all kinds."""
        return int(sum(frame.notna().to_numpy().sum() for _, frame in self.items()))

    def slice(self, start: pd.Timestamp | None, end: pd.Timestamp | None) -> ScadaData:
        """Rows with ``start <= t < end``."""

        def cut(frame: pd.DataFrame) -> pd.DataFrame:
            if frame.empty:
                return frame
            mask = np.ones(len(frame), dtype=bool)
            if start is not None:
                mask &= frame.index >= start
            if end is not None:
                mask &= frame.index < end
            return frame.loc[mask]

        return ScadaData(*(cut(f) for _, f in self.items()))


# --- reading ----------------------------------------------------------------------------------
def _open_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
        return raw.decode("utf-8-sig")
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise InputError(f"cannot read file: {exc}", file=path) from None
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _sniff(text: str, path: Path) -> tuple[str, str]:
    """Return (separator, decimal mark) from the header and the first data line."""
    lines = text.splitlines()
    if not lines:
        raise InputError("file is empty", file=path, line=1)
    header = lines[0]
    sep = ";" if ";" in header else ("\t" if "\t" in header else ",")
    decimal = "."
    if sep != "," and len(lines) > 1 and re.search(r"\d,\d", lines[1]):
        decimal = ","
    return sep, decimal


def _locate_bad_cell(frame: pd.DataFrame, path: Path, decimal: str) -> InputError:
    for col in frame.columns[1:]:
        values = frame[col].astype("string").str.strip()
        if decimal == ",":
            values = values.str.replace(",", ".", regex=False)
        numeric = pd.to_numeric(values, errors="coerce")
        bad = numeric.isna() & values.notna() & (values != "")
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            return InputError(
                f"expected a number, got '{frame[col].iloc[row]}'",
                file=path,
                line=row + 2,
                field=str(col),
            )
    return InputError("cannot parse values", file=path)


def _parse_times(
    values: pd.Series, path: Path, first_line: int, *, unique: bool = True
) -> pd.DatetimeIndex:
    parsed = pd.to_datetime(values, format="mixed", errors="coerce")
    bad = parsed.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"expected a timestamp like 2019-01-01 00:05, got '{values.iloc[row]}'",
            file=path,
            line=row + first_line,
            field="Timestamp",
        )
    idx = pd.DatetimeIndex(parsed)
    idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
    if unique and idx.has_duplicates:
        row = int(np.flatnonzero(idx.duplicated())[0])
        raise InputError(
            f"duplicate timestamp '{values.iloc[row]}'",
            file=path,
            line=row + first_line,
            field="Timestamp",
        )
    idx.name = "time"
    return idx


def _frame_from_table(raw: pd.DataFrame, kind: str, path: Path, decimal: str) -> pd.DataFrame:
    if raw.shape[1] < 1 or str(raw.columns[0]).strip().lower() not in ("timestamp", "time", "t"):
        raise InputError(
            "first column must be 'Timestamp'",
            file=path,
            line=1,
            field=str(raw.columns[0]) if raw.shape[1] else None,
        )
    times = _parse_times(raw.iloc[:, 0].astype("string"), path, 2)
    values = raw.iloc[:, 1:]
    cols = [str(c).strip() for c in values.columns]
    if len(set(cols)) != len(cols):
        raise InputError("duplicate sensor column", file=path, line=1)
    try:
        if decimal == ",":
            numeric = values.apply(
                lambda s: pd.to_numeric(s.astype("string").str.replace(",", ".", regex=False))
            )
        else:
            numeric = values.apply(pd.to_numeric)
    except (ValueError, TypeError):
        raise _locate_bad_cell(raw, path, decimal) from None
    data = numeric.to_numpy(dtype=float) * _factor(kind)
    return pd.DataFrame(data, index=times, columns=pd.Index(cols))


def _read_csv(path: Path, kind: str) -> pd.DataFrame:
    text = _open_text(path)
    sep, decimal = _sniff(text, path)
    try:
        raw = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_values=[""])
    except pd.errors.ParserError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise InputError(
            f"malformed CSV: {exc}", file=path, line=int(match.group(1)) if match else None
        ) from None
    return _frame_from_table(raw, kind, path, decimal)


def _find(folder: Path, stem: str) -> Path | None:
    for name in (f"{stem}.csv", f"{stem}.csv.gz"):
        for candidate in folder.iterdir():
            if candidate.name.lower() == name.lower():
                return candidate
    return None


def read_battledim(path: str | Path) -> ScadaData:
    """Read a BattLeDIM folder (CSV or CSV.gz) or workbook (``.xlsx``) into SI frames."""
    p = Path(path)
    if p.is_dir():
        frames: dict[str, pd.DataFrame] = {}
        for kind, stem in KIND_FILES.items():
            f = _find(p, stem)
            frames[kind] = _read_csv(f, kind) if f else pd.DataFrame()
        if all(f.empty and not len(f.columns) for f in frames.values()):
            raise InputError(
                "no BattLeDIM files found; expected Pressures.csv, Flows.csv, Levels.csv or Demands.csv",
                file=p,
            )
        return ScadaData(**frames)
    if p.suffix.lower() in (".xlsx", ".xlsm"):
        return _read_workbook(p)
    if not p.exists():
        raise InputError("no such file or folder", file=p)
    raise InputError("expected a BattLeDIM folder or an .xlsx workbook", file=p)


def _read_workbook(path: Path) -> ScadaData:
    try:
        sheets = pd.read_excel(path, sheet_name=None, dtype=str)
    except Exception as exc:  # openpyxl raises many types for corrupt files
        raise InputError(f"cannot read workbook: {exc}", file=path) from None
    frames: dict[str, pd.DataFrame] = {}
    for kind, stem in KIND_FILES.items():
        match = [name for name in sheets if name.strip().lower().startswith(stem.lower())]
        if match:
            sheet = sheets[match[0]]
            frames[kind] = _frame_from_table(sheet, kind, Path(f"{path}[{match[0]}]"), ".")
        else:
            frames[kind] = pd.DataFrame()
    if all(f.empty for f in frames.values()):
        raise InputError("no Pressures, Flows, Levels or Demands sheet found", file=path)
    return ScadaData(**frames)


# --- writing ----------------------------------------------------------------------------------
def write_battledim(folder: str | Path, data: ScadaData, *, decimals: int = 2) -> list[Path]:
    """Write SI frames as a BattLeDIM folder (layout units, ``;``, values rounded to ``decimals``)."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, frame in data.items():
        if frame.empty and not len(frame.columns):
            continue
        table = (frame / _factor(kind)).round(decimals)
        index = pd.DatetimeIndex(table.index)
        if index.tz is not None:
            index = index.tz_convert("UTC").tz_localize(None)
        table.index = pd.Index(index.strftime(TIME_FORMAT), name="Timestamp")
        path = out / f"{KIND_FILES[kind]}.csv"
        table.to_csv(path, sep=";", float_format=f"%.{decimals}f", na_rep="")
        written.append(path)
    return written


def read_truth(path: str | Path) -> pd.DataFrame:
    """Read ``truth.csv`` (linkID, kind, start, peak, end, diameter_m) with UTC times."""
    p = Path(path)
    try:
        frame = pd.read_csv(p, dtype={"linkID": str, "kind": str})
    except (OSError, pd.errors.ParserError) as exc:
        raise InputError(f"cannot read truth file: {exc}", file=p) from None
    missing = [c for c in TRUTH_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"missing columns {missing}", file=p, line=1)
    for col in ("start", "peak", "end"):
        frame[col] = _parse_times(frame[col].astype("string"), p, 2, unique=False)
    return frame


def write_truth(path: str | Path, truth: pd.DataFrame) -> Path:
    """Write leak ground truth in the BattLeDIM-style ``truth.csv`` layout."""
    p = Path(path)
    table = truth.copy()
    for col in ("start", "peak", "end"):
        idx = pd.DatetimeIndex(table[col])
        if idx.tz is not None:
            idx = idx.tz_convert("UTC").tz_localize(None)
        table[col] = idx.strftime(TIME_FORMAT)
    table.to_csv(p, index=False)
    return p
