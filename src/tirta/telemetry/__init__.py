"""Telemetry: sensor readings in and out of tirta, validated and in SI units.

Readers for the BattLeDIM layout, one validation gate, ingestion paths and the store (DuckDB or
PostgreSQL) behind one interface.
"""

from __future__ import annotations

from tirta.telemetry.battledim import (
    ScadaData,
    read_battledim,
    read_truth,
    write_battledim,
    write_truth,
)
from tirta.telemetry.schema import IngestResult, WriteCounts, si_column
from tirta.telemetry.store import Store, open_store
from tirta.telemetry.validate import Validated, validate

__all__ = [
    "IngestResult",
    "ScadaData",
    "Store",
    "Validated",
    "WriteCounts",
    "open_store",
    "read_battledim",
    "read_truth",
    "si_column",
    "validate",
    "write_battledim",
    "write_truth",
]
