"""Lab results of a treatment plant: a long CSV ``sample,time,point,parameter,value,unit`` read whole.

Every row is validated (parameter, point, time, value, unit) before anything is returned, so a bad file
never half-imports: the first bad row raises :class:`~tirta.errors.InputError` naming file, line and field.
Values are converted to SI (concentrations kg/m³, coliforms per m³, pH as is).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Final

import pandas as pd

from tirta.errors import InputError, UnitError
from tirta.telemetry.schema import utc_time
from tirta.units import parse_unit

__all__ = ["LAB_COLUMNS", "PARAMETERS", "POINTS", "lab_frame", "load_lab", "parameter_unit"]

LAB_COLUMNS: Final = ("sample", "time", "point", "parameter", "value", "unit")
POINTS: Final = ("influent", "effluent")
#: parameter -> quantity of its unit (``ph`` is dimensionless and takes ``-`` or an empty unit)
PARAMETERS: Final[dict[str, str]] = {
    "pH": "ph",
    "BOD5": "concentration",
    "COD": "concentration",
    "TSS": "concentration",
    "oil_grease": "concentration",
    "NH3_N": "concentration",
    "total_coliform": "count_density",
}
_PH_UNITS: Final = ("", "-")
_REPORT_UNIT: Final = {"ph": "-", "concentration": "mg/L", "count_density": "MPN/100mL"}


def parameter_unit(parameter: str) -> str:
    """The unit a parameter is reported in (mg/L, MPN/100mL or ``-`` for pH)."""
    return _REPORT_UNIT[PARAMETERS[parameter]]


def load_lab(path: str | Path) -> pd.DataFrame:
    """Lab results of ``path`` as a frame (see :func:`lab_frame`); InputError on the first bad row."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            return lab_frame(csv.reader(fh), source=path)
    except FileNotFoundError:
        raise InputError("lab file not found", file=path) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason})", file=path) from None


def lab_frame(rows: Iterable[list[str]], source: str | Path = "<lab>") -> pd.DataFrame:
    """Validate CSV ``rows`` (header first) into columns sample, time (UTC), point, parameter, value_si,
    unit (as received); ``value_si`` is kg/m³ for concentrations, 1/m³ for coliforms, pH as is."""
    it = iter(rows)
    header = [h.strip() for h in next(it, [])]
    missing = [c for c in LAB_COLUMNS if c not in header]
    if missing:
        raise InputError(
            f"missing column(s) {', '.join(missing)}; expected {','.join(LAB_COLUMNS)}",
            file=source,
            line=1,
            field=missing[0],
        )
    col = {c: header.index(c) for c in LAB_COLUMNS}
    seen: dict[tuple[str, str, str], int] = {}
    out: dict[str, list[object]] = {
        c: [] for c in ("sample", "time", "point", "parameter", "value_si", "unit")
    }
    for line, row in enumerate(it, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            raise InputError(
                f"{len(row)} fields, expected {len(header)}",
                file=source,
                line=line,
                field=header[len(row)],
            )
        rec = {c: row[i].strip() for c, i in col.items()}
        try:
            _check_row(rec, out)
        except InputError as exc:
            raise InputError(exc.message, file=source, line=line, field=exc.field) from None
        key = (rec["sample"], rec["point"], rec["parameter"])
        if key in seen:
            raise InputError(
                f"{key[1]} {key[2]} of sample '{key[0]}' already given on line {seen[key]}",
                file=source,
                line=line,
                field="sample",
            )
        seen[key] = line
    frame = pd.DataFrame(out)
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    frame["value_si"] = frame["value_si"].astype(float)
    return frame


def _check_row(rec: dict[str, str], out: dict[str, list[object]]) -> None:
    if not rec["sample"]:
        raise InputError("sample id missing", field="sample")
    time = utc_time(rec["time"], "time") if rec["time"] else None
    if time is None:
        raise InputError("time missing", field="time")
    if rec["point"] not in POINTS:
        raise InputError(f"unknown point '{rec['point']}'; expected influent or effluent", field="point")
    parameter = rec["parameter"]
    if parameter not in PARAMETERS:
        raise InputError(
            f"unknown parameter '{parameter}'; expected one of {', '.join(PARAMETERS)}",
            field="parameter",
        )
    try:
        value = float(rec["value"])
    except ValueError:
        raise InputError(f"'{rec['value']}' is not a number", field="value") from None
    if not math.isfinite(value):
        raise InputError(f"'{rec['value']}' is not finite", field="value")
    quantity = PARAMETERS[parameter]
    if quantity == "ph":
        if rec["unit"] not in _PH_UNITS:
            raise InputError(f"pH takes no unit ('-' or empty), got '{rec['unit']}'", field="unit")
        if not 0.0 <= value <= 14.0:
            raise InputError(f"pH {value:g} outside 0-14", field="value")
        value_si = value
    else:
        if value < 0.0:
            raise InputError(f"negative {parameter} {value:g}", field="value")
        try:
            value_si = value * parse_unit(rec["unit"], quantity).factor
        except UnitError as exc:
            raise InputError(f"{exc.message} for {parameter}", field="unit") from None
    for key, item in (
        ("sample", rec["sample"]),
        ("time", time),
        ("point", rec["point"]),
        ("parameter", parameter),
        ("value_si", value_si),
        ("unit", rec["unit"]),
    ):
        out[key].append(item)
