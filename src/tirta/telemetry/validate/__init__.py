"""Validation of incoming readings, the one gate every ingestion path goes through.

Raw records (sensor, time, value, unit as received) become readings in SI and UTC, or quarantine rows
with the raw payload and a reason. The rules are one SQL statement run by DuckDB over an Arrow table:
in the DuckDB store's own connection for bulk loads (the readings never leave the database), in a
throw-away in-memory connection for everything else. No loop per reading.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pyarrow as pa

from tirta.network.sensors import SensorRegistry
from tirta.telemetry.schema import READING_COLUMNS
from tirta.telemetry.validate.arrow import raw_table
from tirta.telemetry.validate.rules import (
    FUTURE_TOLERANCE,
    Checked,
    check,
    checked_drop,
    memory_connection,
    round_sizes,
    valid_rows,
)

__all__ = [
    "FUTURE_TOLERANCE", "Checked", "Validated", "check", "raw_table", "round_sizes", "sensor_table",
    "valid_rows", "validate",
]  # fmt: skip


@dataclass
class Validated:
    """A validated batch: ``readings`` (sensor, time UTC, value SI), ``quarantine`` rows, and the
    number of exact repeats of a reading within the batch (``duplicates``, dropped, nothing lost)."""

    readings: pd.DataFrame
    quarantine: pd.DataFrame
    duplicates: int

    def reasons(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.quarantine["reason"].value_counts().items()}


def sensor_table(registry: SensorRegistry) -> pd.DataFrame:
    """The registry as a frame indexed by sensor id: quantity, valid_min, valid_max (SI), installed (UTC)."""
    rows = [(s.id, s.quantity, s.valid_min, s.valid_max, s.installed) for s in registry]
    table = pd.DataFrame(rows, columns=["id", "quantity", "valid_min", "valid_max", "installed"])
    table["installed"] = pd.to_datetime(table["installed"], utc=True)
    return table.set_index("id")


def validate(
    raw: pd.DataFrame | pa.Table,
    registry: SensorRegistry | pd.DataFrame,
    *,
    source: str,
    now: pd.Timestamp | None = None,
    received_at: pd.Timestamp | None = None,
) -> Validated:
    """Check raw records against the registry; return SI readings and quarantine rows with reasons.

    ``raw`` has columns sensor, time, value, unit (as received) and optionally payload (the raw text to
    keep for rejected rows; default: the record's fields as JSON). The rules are those of :func:`check`.
    """
    table = registry if isinstance(registry, pd.DataFrame) else sensor_table(registry)
    arrow = raw_table(raw)
    con = memory_connection()
    try:
        checked = check(con, arrow, table, source=source, now=now, received_at=received_at)
        readings = con.execute(f"{Checked.READINGS} ORDER BY c._rn").df()
        quarantine = checked.quarantine()
    finally:
        checked_drop(con)
    readings = readings[list(READING_COLUMNS)]
    readings["sensor"] = readings["sensor"].astype(object)
    readings["time"] = pd.to_datetime(readings["time"], utc=True).astype("datetime64[us, UTC]")
    return Validated(readings, quarantine, checked.duplicates)
