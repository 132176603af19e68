"""Design demand of new connections and the parsing of what-if arguments (``NODE:HOUSEHOLDS`` …)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from tirta.errors import InputError

__all__ = [
    "STANDARD_DIAMETERS_MM",
    "Connection",
    "DemandDesign",
    "NewPipe",
    "parse_connection",
    "parse_new_pipe",
]

# nominal internal diameters a utility stocks (DN series), mm
STANDARD_DIAMETERS_MM = (50, 63, 80, 100, 125, 150, 200, 250, 300, 350, 400, 450, 500, 600, 700, 800)


@dataclass(frozen=True)
class DemandDesign:
    """Per-capita use (L/person/day), persons per household and the maximum-day peak factor."""

    lpcd: float = 150.0
    household_size: float = 4.5
    peak_factor: float = 1.5

    def __post_init__(self) -> None:
        for name in ("lpcd", "household_size", "peak_factor"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise InputError(f"must be a positive number, got {value}", field=name.replace("_", "-"))

    def demand_m3s(self, households: float) -> float:
        """Design-day demand of ``households`` new connections, m³/s (before the diurnal pattern)."""
        return households * self.household_size * self.lpcd / 1000.0 / 86_400.0 * self.peak_factor


@dataclass(frozen=True)
class Connection:
    """``households`` new connections on an existing junction."""

    node: str
    households: int


@dataclass(frozen=True)
class NewPipe:
    """A new pipe from an existing node to a new junction that serves ``households``.

    ``diameter_m`` None asks for the smallest standard diameter meeting the service pressure;
    ``elevation_m`` None puts the new junction at the elevation of the node it starts from.
    """

    from_node: str
    length_m: float
    households: int
    diameter_m: float | None = None
    elevation_m: float | None = None

    @property
    def end_node(self) -> str:
        return f"{self.from_node}__ext"

    @property
    def pipe(self) -> str:
        return f"{self.from_node}__extpipe"


def _number(text: str, field: str, *, integer: bool = False) -> float:
    try:
        value = float(int(text)) if integer else float(text)
    except ValueError:
        kind = "a whole number" if integer else "a number"
        raise InputError(f"expected {kind}, got {text!r}", field=field) from None
    if not math.isfinite(value) or value < 0:
        raise InputError(f"must not be negative, got {text}", field=field)
    return value


def parse_connection(text: str) -> Connection:
    """``NODE:HOUSEHOLDS`` (``--connect``) → :class:`Connection`."""
    node, sep, count = text.rpartition(":")
    if not sep or not node:
        raise InputError(f"expected NODE:HOUSEHOLDS, got {text!r}", field="connect")
    return Connection(node, int(_number(count.strip(), "households", integer=True)))


def parse_new_pipe(text: str, diameter_mm: float | None = None) -> NewPipe:
    """``NODE:LENGTH_M:HOUSEHOLDS[:ELEVATION_M]`` (``--new-pipe``) → :class:`NewPipe`."""
    parts = text.split(":")
    if len(parts) not in (3, 4) or not parts[0]:
        raise InputError(
            f"expected NODE:LENGTH_M:HOUSEHOLDS[:ELEVATION_M], got {text!r}", field="new-pipe"
        )
    length = _number(parts[1], "length")
    if length <= 0:
        raise InputError("must be positive", field="length")
    households = int(_number(parts[2], "households", integer=True))
    elevation = float(parts[3]) if len(parts) == 4 else None
    if diameter_mm is not None and not diameter_mm > 0:
        raise InputError(f"must be positive, got {diameter_mm}", field="diameter-mm")
    diameter = diameter_mm / 1000.0 if diameter_mm is not None else None
    return NewPipe(parts[0], length, households, diameter, elevation)
