"""Effluent standards as data: TOML files naming their source, shipped or the utility's own permit.

A standard maps lab parameters to limits: a maximum (a value equal to it complies), a minimum (pH is a
range) and optionally a minimum % reduction that complies instead of the concentration (EU UWWTD).
Shipped: ``id-p68-2016`` (Indonesia, the default) and ``eu-uwwtd``; any other argument is a TOML file.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from tirta.errors import InputError, UnitError
from tirta.units import parse_unit
from tirta.wastewater.lab import PARAMETERS

__all__ = ["DEFAULT_STANDARD", "EFFLUENT_DIR", "Limit", "Standard", "load_effluent_standard", "shipped"]

EFFLUENT_DIR: Final = Path(__file__).resolve().parent.parent / "data" / "standards" / "effluent"
DEFAULT_STANDARD: Final = "id-p68-2016"


@dataclass(frozen=True)
class Limit:
    """One parameter's limit in its stated unit, with the same bounds in SI for comparison."""

    parameter: str
    unit: str
    factor: float = 1.0  # SI per stated unit (1e-3 for mg/L → kg/m³)
    max: float | None = None
    min: float | None = None
    max_si: float | None = None
    min_si: float | None = None
    min_reduction_pct: float | None = None


@dataclass(frozen=True)
class Standard:
    """An effluent standard: id, name, published source and the limits by parameter."""

    id: str
    name: str
    source: str
    limits: dict[str, Limit]


def shipped() -> list[str]:
    """Ids of the standards shipped with tirta."""
    return sorted(p.stem for p in EFFLUENT_DIR.glob("*.toml"))


def load_effluent_standard(name: str | Path = DEFAULT_STANDARD) -> Standard:
    """The shipped standard ``name`` (e.g. ``eu-uwwtd``) or the user's TOML permit at path ``name``."""
    text = str(name)
    path = EFFLUENT_DIR / f"{text}.toml" if text in shipped() else Path(text)
    if not path.is_file():
        raise InputError(
            f"unknown standard '{text}'; expected one of {', '.join(shipped())} or a TOML file",
            field="--standard",
        )
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"invalid TOML: {exc}", file=path) from None
    return _standard(data, path)


def _standard(data: dict[str, Any], path: Path) -> Standard:
    for key in ("id", "source"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise InputError("a standard must name its id and its source", file=path, field=key)
    table = data.get("limits")
    if not isinstance(table, dict) or not table:
        raise InputError("no [limits.<parameter>] tables", file=path, field="limits")
    limits = {p: _limit(p, spec, path) for p, spec in table.items()}
    return Standard(str(data["id"]), str(data.get("name", data["id"])), str(data["source"]), limits)


def _limit(parameter: str, spec: Any, path: Path) -> Limit:
    where = f"limits.{parameter}"
    if parameter not in PARAMETERS:
        raise InputError(
            f"unknown parameter '{parameter}'; expected one of {', '.join(PARAMETERS)}",
            file=path,
            field=where,
        )
    if not isinstance(spec, dict):
        raise InputError("expected a table with max/min/unit", file=path, field=where)
    bounds = {k: spec.get(k) for k in ("max", "min", "min_reduction_pct")}
    for key, value in bounds.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise InputError(f"'{value}' is not a number", file=path, field=f"{where}.{key}")
    if bounds["max"] is None and bounds["min"] is None:
        raise InputError("a limit needs max or min", file=path, field=where)
    unit = str(spec.get("unit", "-"))
    quantity = PARAMETERS[parameter]
    if quantity == "ph":
        factor = 1.0
    else:
        try:
            factor = parse_unit(unit, quantity).factor
        except UnitError as exc:
            raise InputError(exc.message, file=path, field=f"{where}.unit") from None
    hi, lo = bounds["max"], bounds["min"]
    return Limit(
        parameter=parameter,
        unit=unit,
        factor=factor,
        max=None if hi is None else float(hi),
        min=None if lo is None else float(lo),
        max_si=None if hi is None else float(hi) * factor,
        min_si=None if lo is None else float(lo) * factor,
        min_reduction_pct=None
        if bounds["min_reduction_pct"] is None
        else float(bounds["min_reduction_pct"]),
    )
