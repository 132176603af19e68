"""Telemetry: sensor readings in and out of tirta, validated and in SI units.

The BattLeDIM layout reader and writer live here; stores and ingestion paths build on them.
"""

from __future__ import annotations

from tirta.telemetry.battledim import (
    ScadaData,
    read_battledim,
    read_truth,
    write_battledim,
    write_truth,
)

__all__ = ["ScadaData", "read_battledim", "read_truth", "write_battledim", "write_truth"]
