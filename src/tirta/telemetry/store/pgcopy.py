"""Readings in PostgreSQL's binary ``COPY`` format, built with numpy: no text formatting or parsing of
times and values on either side, and no Python loop per reading.

A reading is a tuple (sensor text, time timestamptz, value float8); times are int64 µs since the Unix
epoch here and since 2000-01-01 in the format.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["HEADER", "PG_EPOCH_US", "TRAILER", "Coded", "binary_rows"]

PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 UTC in µs since the Unix epoch
HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, header extension length
TRAILER = b"\xff\xff"


@dataclass
class Coded:
    """Readings as arrays: ``codes`` into ``names`` (sensor ids), ``time_us`` (µs since the Unix epoch,
    UTC) and ``value`` (SI)."""

    names: list[str]
    codes: np.ndarray
    time_us: np.ndarray
    value: np.ndarray

    def __len__(self) -> int:
        return len(self.codes)

    @classmethod
    def from_frame(cls, readings: pd.DataFrame) -> Coded:
        """From a (sensor, time UTC, value) frame."""
        codes, names = pd.factorize(readings["sensor"].astype(str), sort=False)
        times = readings["time"].dt.tz_convert("UTC").astype("datetime64[us, UTC]").astype("int64")
        return cls(
            [str(n) for n in names],
            np.asarray(codes, dtype=np.int64),
            times.to_numpy(dtype=np.int64),
            readings["value"].to_numpy(dtype=float),
        )


def binary_rows(readings: Coded, chunk: int) -> Iterator[tuple[bytes, int]]:
    """Rows in the binary ``COPY`` layout (no header or trailer), ``chunk`` readings at a time; yields
    (data, readings in it). Rows are grouped by the byte length of the sensor id (fixed-width records)."""
    encoded = [n.encode() for n in readings.names]
    lengths = np.array([len(b) for b in encoded], dtype=np.int64)
    widest = max(int(lengths.max()) if len(lengths) else 1, 1)
    ids = np.array(encoded, dtype=f"S{widest}")
    for lo in range(0, len(readings), chunk):
        codes = readings.codes[lo : lo + chunk]
        times = readings.time_us[lo : lo + chunk]
        values = readings.value[lo : lo + chunk]
        row_lengths = lengths[codes]
        widths = np.unique(row_lengths)
        if len(widths) == 1:
            parts = [_records(int(widths[0]), ids[codes], times, values)]
        else:
            parts = []
            for width in widths:
                sel = np.flatnonzero(row_lengths == width)
                parts.append(_records(int(width), ids[codes[sel]], times[sel], values[sel]))
        yield b"".join(parts), len(codes)


def _records(length: int, ids: np.ndarray, times: np.ndarray, values: np.ndarray) -> bytes:
    """Fixed-width rows for sensor ids of ``length`` bytes."""
    fields: list[tuple[str, str]] = [("n", ">i2"), ("ls", ">i4")]
    if length:
        fields.append(("s", f"S{length}"))
    fields += [("lt", ">i4"), ("t", ">i8"), ("lv", ">i4"), ("v", ">f8")]
    rec = np.empty(len(times), dtype=np.dtype(fields))
    rec["n"] = 3
    rec["ls"] = length
    if length:
        rec["s"] = ids
    rec["lt"] = 8
    rec["t"] = times - PG_EPOCH_US
    rec["lv"] = 8
    rec["v"] = values
    return rec.tobytes()
