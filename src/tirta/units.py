"""Units at the edges: parse a unit name and convert values to and from SI.

SI inside tirta: metres of head for pressure, m³/s for flow, m for level and length, m³ for volume,
seconds for time, W for power. Factors follow EPANET's conventions (1 psi = 0.70307 m of water head).
"""

from __future__ import annotations

import numbers
import re
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import numpy as np

from tirta.errors import UnitError

__all__ = [
    "DISPLAY_PRESETS",
    "SI_UNITS",
    "UNITS",
    "Unit",
    "display_column",
    "display_units",
    "from_si",
    "parse_unit",
    "shown_in",
    "shown_value",
    "to_si",
    "unit_tag",
]

G: Final = 9.80665  # m/s², standard gravity
RHO_WATER: Final = 1000.0  # kg/m³, the density pressure heads are quoted for


@dataclass(frozen=True)
class Unit:
    """A unit of one quantity with its factor to the SI unit of that quantity."""

    name: str
    quantity: str  # pressure, flow, length, volume, time, power, dimensionless
    factor: float  # value_in_si = value * factor

    def to_si(self, value: float) -> float:
        return value * self.factor


_KPA_M = 1000.0 / (RHO_WATER * G)
_GAL = 3.785411784e-3

_TABLE: list[tuple[str, str, float, tuple[str, ...]]] = [
    # pressure, as head of water
    ("m", "pressure", 1.0, ("mh2o", "m_h2o", "mwc", "m head", "meter", "meters", "metre")),
    ("kPa", "pressure", _KPA_M, ("kpa",)),
    ("Pa", "pressure", _KPA_M / 1000.0, ("pa",)),
    ("MPa", "pressure", _KPA_M * 1000.0, ("mpa",)),
    ("bar", "pressure", 100.0 * _KPA_M, ("bar",)),
    ("mbar", "pressure", 0.1 * _KPA_M, ("mbar",)),
    ("psi", "pressure", 0.70307, ("psi", "psig")),
    ("ft_head", "pressure", 0.3048, ("ft head", "fth2o")),
    # flow
    ("m3/s", "flow", 1.0, ("m3/s", "m³/s", "m3_s", "cms", "cumecs")),
    ("m3/h", "flow", 1.0 / 3600.0, ("m3/h", "m³/h", "m3_h", "cmh", "m3/hr")),
    ("m3/d", "flow", 1.0 / 86400.0, ("m3/d", "m³/d", "m3_d", "cmd", "m3/day")),
    ("L/s", "flow", 1e-3, ("l/s", "lps", "l_s")),
    ("L/min", "flow", 1e-3 / 60.0, ("l/min", "lpm", "l_min")),
    ("L/h", "flow", 1e-3 / 3600.0, ("l/h", "lph", "l_h")),
    ("MLD", "flow", 1000.0 / 86400.0, ("mld", "ml/d")),
    ("gpm", "flow", _GAL / 60.0, ("gpm", "gal/min")),
    ("mgd", "flow", 1e6 * _GAL / 86400.0, ("mgd",)),
    ("imgd", "flow", 1e6 * 4.54609e-3 / 86400.0, ("imgd",)),
    ("cfs", "flow", 0.3048**3, ("cfs", "ft3/s")),
    ("afd", "flow", 1233.48184 / 86400.0, ("afd",)),
    # length and level (pressure "m" is a head; level "m" shares the symbol, resolved by quantity)
    ("cm", "length", 0.01, ("cm",)),
    ("mm", "length", 0.001, ("mm",)),
    ("km", "length", 1000.0, ("km",)),
    ("ft", "length", 0.3048, ("ft", "feet", "foot")),
    ("in", "length", 0.0254, ("in", "inch", "inches")),
    ("mi", "length", 1609.344, ("mi", "mile", "miles")),
    # volume
    ("m3", "volume", 1.0, ("m3", "m³", "cubic metre")),
    ("L", "volume", 1e-3, ("l", "litre", "liter", "litres", "liters")),
    ("gal", "volume", _GAL, ("gal", "gallon", "gallons")),
    # time
    ("s", "time", 1.0, ("s", "sec", "second", "seconds")),
    ("min", "time", 60.0, ("min", "minute", "minutes")),
    ("h", "time", 3600.0, ("h", "hr", "hour", "hours")),
    ("d", "time", 86400.0, ("d", "day", "days")),
    # electric power (landfill-gas engines)
    ("W", "power", 1.0, ("w", "watt", "watts")),
    ("kW", "power", 1e3, ("kw", "kwe")),
    ("MW", "power", 1e6, ("mw", "mwe")),
    # ratios
    ("%", "dimensionless", 0.01, ("%", "percent", "pct")),
    ("1", "dimensionless", 1.0, ("1", "-", "ratio", "fraction")),
    # concentration in water (SI kg/m³; lab reports use mg/L = g/m³)
    ("kg/m3", "concentration", 1.0, ("kg/m3", "g/l")),
    ("mg/L", "concentration", 1e-3, ("mg/l", "g/m3", "ppm")),
    ("µg/L", "concentration", 1e-6, ("µg/l", "μg/l", "ug/l", "mg/m3", "ppb")),
    # bacterial counts (SI per m³; lab reports use per 100 mL, MPN or CFU alike)
    ("1/m3", "count_density", 1.0, ("1/m3", "count/m3")),
    ("MPN/100mL", "count_density", 1e4, ("mpn/100ml", "mpn/100 ml", "count/100ml")),
    ("CFU/100mL", "count_density", 1e4, ("cfu/100ml", "cfu/100 ml")),
]

UNITS: Final[dict[str, Unit]] = {}
_ALIASES: dict[str, Unit] = {}
for _name, _quantity, _factor, _aliases in _TABLE:
    _unit = Unit(_name, _quantity, _factor)
    UNITS[_name] = _unit
    for _alias in (_name.lower(), *_aliases):
        _ALIASES.setdefault(_alias, _unit)

# length-like quantities that share "m" with pressure head
_LENGTH_M = Unit("m", "length", 1.0)
_SAME_AS_LENGTH = {"length", "level"}


def _normalise(text: str) -> str:
    s = text.strip().lower().replace("³", "3").replace("^3", "3").replace("·", "")
    s = re.sub(r"\s*/\s*", "/", s)
    return re.sub(r"\s+", " ", s)


def parse_unit(text: str | None, quantity: str | None = None) -> Unit:
    """Return the unit named by ``text``, checking it measures ``quantity`` when given.

    ``quantity`` may be pressure, flow, level, length, volume, time, concentration, count_density or
    dimensionless.
    """
    if text is None or not str(text).strip():
        raise UnitError(f"unit missing; expected a {quantity or 'known'} unit")
    key = _normalise(str(text))
    unit = _ALIASES.get(key)
    if unit is None:
        known = ", ".join(u.name for u in UNITS.values() if quantity in (None, u.quantity))
        raise UnitError(f"unknown unit '{text}'; expected one of: {known}")
    if quantity is None:
        return unit
    if quantity in _SAME_AS_LENGTH:
        if unit.name == "m":
            return _LENGTH_M
        if unit.quantity == "length":
            return unit
    elif unit.quantity == quantity:
        return unit
    raise UnitError(f"unit '{text}' measures {unit.quantity}, expected a {quantity} unit")


ArrayT = TypeVar("ArrayT", float, np.ndarray)


def to_si(value: ArrayT, unit: str, quantity: str | None = None) -> ArrayT:
    """Convert ``value`` (scalar or array) given in ``unit`` to SI."""
    return value * parse_unit(unit, quantity).factor


def from_si(value: ArrayT, unit: str, quantity: str | None = None) -> ArrayT:
    """Convert ``value`` (scalar or array) from SI to ``unit``."""
    return value / parse_unit(unit, quantity).factor


# What people read: storage stays SI, display follows the deployment (TIRTA_DISPLAY_UNITS) or a flag.
DISPLAY_PRESETS: Final[dict[str, dict[str, str]]] = {
    "si": {"pressure": "m", "level": "m", "flow": "m3/s", "volume": "m3", "length": "m"},
    "metric": {"pressure": "m", "level": "m", "flow": "L/s", "volume": "m3", "length": "m"},
    "us": {"pressure": "psi", "level": "ft", "flow": "gpm", "volume": "gal", "length": "ft"},
}
DISPLAY_ENV: Final = "TIRTA_DISPLAY_UNITS"
# the unit tirta stores each quantity in
SI_UNITS: Final[dict[str, str]] = {
    "pressure": "m",
    "level": "m",
    "flow": "m3/s",
    "volume": "m3",
    "length": "m",
    "time": "s",
    "power": "W",
    "dimensionless": "1",
    "concentration": "kg/m3",
    "count_density": "1/m3",
}
_TAGS = {"m3/s": "m3s", "m3/h": "m3h", "m3/d": "m3d", "L/s": "lps", "L/min": "lpm", "L/h": "lph"}


def display_units(spec: str | None) -> dict[str, str]:
    """Display unit per quantity from ``si``, ``metric``, ``us`` and/or ``quantity=unit`` items.

    ``"metric,flow=MLD"`` starts from the metric preset and shows flows in MLD; an empty spec is SI.
    Each unit is checked against its quantity (UnitError naming the item).
    """
    chosen = dict(DISPLAY_PRESETS["si"])
    for item in (spec or "").split(","):
        item = item.strip()
        if not item:
            continue
        if "=" not in item:
            if item.lower() not in DISPLAY_PRESETS:
                raise UnitError(
                    f"unknown display units '{item}'; expected {', '.join(DISPLAY_PRESETS)} "
                    "or quantity=unit (e.g. flow=L/s)",
                    field="units",
                )
            chosen.update(DISPLAY_PRESETS[item.lower()])
            continue
        quantity, unit = (part.strip() for part in item.split("=", 1))
        if quantity not in chosen:
            raise UnitError(
                f"unknown quantity '{quantity}'; expected one of {', '.join(chosen)}", field="units"
            )
        try:
            chosen[quantity] = parse_unit(unit, quantity).name
        except UnitError as exc:
            raise UnitError(exc.message, field="units") from None
    return chosen


def unit_tag(unit: str) -> str:
    """A unit as it goes into a column name: ``L/s`` → ``lps``, ``m3/h`` → ``m3h``, ``psi`` → ``psi``."""
    name = parse_unit(unit).name
    return _TAGS.get(name, re.sub(r"[^a-z0-9]+", "", name.lower()) or "si")


def display_column(sensor_id: str, quantity: str, unit: str) -> str:
    """A reading's column in display units: ``p227`` flow in L/s → ``p227_flow_lps``."""
    return f"{sensor_id}_{quantity}_{unit_tag(unit)}"


def shown_value(
    value: float | None, quantity: str, shown: dict[str, str]
) -> tuple[float | None, str | None]:
    """An SI value of ``quantity`` in the display unit ``shown`` gives it, with that unit's name;
    the SI value and None for a quantity ``shown`` does not cover (power, concentration …)."""
    unit = shown.get(quantity)
    if unit is None or value is None:
        return value, unit
    return float(from_si(float(value), unit, quantity)), unit


def shown_in(
    value: Any, quantity: str, shown: dict[str, str], si_per_value: float = 1.0
) -> float | None:
    """A number given in ``si_per_value`` SI units (L/s: 1e-3), in the display unit of ``quantity``;
    None for what is not a number (a missing figure)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    out, _ = shown_value(float(value) * si_per_value, quantity, shown)
    return out
