"""Telemetry records: the columns of readings and quarantined payloads, and the counts ingestion returns.

A reading is (sensor, UTC time, value in SI). Long frames carry these as columns; wide frames have a
UTC time index and one column per sensor.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from tirta.errors import InputError
from tirta.network.sensors import KINDS, Sensor

__all__ = [
    "QUARANTINE_COLUMNS",
    "RAW_COLUMNS",
    "READING_COLUMNS",
    "REASONS",
    "IngestResult",
    "Progress",
    "WriteCounts",
    "si_column",
    "time_range",
    "utc_time",
]

Progress = Callable[[int, int], None]


def utc_time(value: Any, field: str) -> pd.Timestamp:
    """``value`` as a UTC timestamp (naive times are taken as UTC); InputError naming ``field``."""
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise InputError(f"cannot parse time '{value}'", field=field) from None
    if ts is pd.NaT:
        raise InputError(f"cannot parse time '{value}'", field=field)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def time_range(
    start: Any, end: Any, fields: tuple[str, str] = ("--from", "--to")
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``[start, end)`` as UTC timestamps; InputError naming ``fields[1]`` when ``end`` is before
    ``start`` (an empty window asked by mistake, not a query with no data)."""
    t0, t1 = utc_time(start, fields[0]), utc_time(end, fields[1])
    if t1 < t0:
        raise InputError(
            f"{fields[1]} {t1:%Y-%m-%d %H:%M} is before {fields[0]} {t0:%Y-%m-%d %H:%M} (UTC)",
            field=fields[1],
        )
    return t0, t1


RAW_COLUMNS = ("sensor", "time", "value", "unit")
READING_COLUMNS = ("sensor", "time", "value")
QUARANTINE_COLUMNS = ("received_at", "source", "sensor", "payload", "reason", "detail")

# why a reading was rejected; the keys of IngestResult.reasons
REASONS = (
    "malformed row",
    "unknown sensor",
    "bad timestamp",
    "not a number",
    "not finite",
    "unit missing",
    "unit not convertible",
    "out of range",
    "future",
    "before installed",
)

_SI_TAG = {"pressure": "m", "level": "m", "flow": "m3s", "power": "w", "dimensionless": "frac"}


def si_column(sensor: Sensor | str, kind: str | None = None) -> str:
    """Column name at the edges: sensor id, quantity and SI unit, e.g. ``n1_pressure_m``, ``p227_flow_m3s``."""
    sid, k = (sensor.id, sensor.kind) if isinstance(sensor, Sensor) else (sensor, kind)
    if k is None or k not in KINDS:
        return sid
    quantity = KINDS[k][0]
    return f"{sid}_{quantity}_{_SI_TAG.get(quantity, 'si')}"


@dataclass(frozen=True)
class WriteCounts:
    """What a store did with a batch of valid readings: new rows, resent duplicates, corrections."""

    inserted: int = 0
    duplicate: int = 0
    corrected: int = 0
    quarantined: int = 0

    def __add__(self, other: WriteCounts) -> WriteCounts:
        return WriteCounts(
            self.inserted + other.inserted,
            self.duplicate + other.duplicate,
            self.corrected + other.corrected,
            self.quarantined + other.quarantined,
        )


@dataclass
class IngestResult:
    """Counts an ingestion path returns: accepted (new or corrected), duplicate, quarantined, reasons."""

    accepted: int = 0
    duplicate: int = 0
    quarantined: int = 0
    corrected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``tirta ingest … --json``."""
        return {
            "accepted": self.accepted,
            "duplicate": self.duplicate,
            "quarantined": self.quarantined,
            "reasons": dict(sorted(self.reasons.items())),
        }

    def __add__(self, other: IngestResult) -> IngestResult:
        reasons = Counter(self.reasons)
        reasons.update(other.reasons)
        return IngestResult(
            self.accepted + other.accepted,
            self.duplicate + other.duplicate,
            self.quarantined + other.quarantined,
            self.corrected + other.corrected,
            dict(reasons),
        )


def empty_readings() -> pd.DataFrame:
    """A long frame of readings with no rows and the right dtypes."""
    return pd.DataFrame(
        {
            "sensor": pd.Series([], dtype=object),
            "time": pd.Series([], dtype="datetime64[us, UTC]"),
            "value": pd.Series([], dtype=float),
        }
    )


def reason_counts(reasons: pd.Series | Mapping[str, int]) -> dict[str, int]:
    """Count of rejected readings per reason."""
    if isinstance(reasons, Mapping):
        return dict(reasons)
    return {str(k): int(v) for k, v in reasons.value_counts().items()}
