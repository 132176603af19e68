"""What the parts of the PostgreSQL store share: SQL over blocks and conversions of times and
fetched blocks between the server and NumPy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from tirta.telemetry.store.pgblocks import (
    BLOCK_READINGS,
    DAY_US,
    PG_EPOCH_DAY,
    block_times,
    decode_arrays,
    sensor_days,
)
from tirta.telemetry.store.pgcopy import Coded

__all__ = [
    "BLOCK_FETCH", "BLOCK_ROWS", "_date", "_day_keys", "_epoch_us_of", "_pg_time", "_range",
    "_unpack_blocks",
]  # fmt: skip

# a block fetched whole: sensor, values, then its times as array_send(times), t0 in µs since the Unix
# epoch, step_us and n (see _unpack_blocks)
BLOCK_FETCH = (
    "sensor, array_send(vals), array_send(times), (extract(epoch FROM t0) * 1000000)::bigint, step_us, n"
)

# the readings of blocks ``b`` as rows (sensor, time, value); a WHERE may follow
BLOCK_ROWS = f"SELECT b.sensor, u.time, u.value FROM blocks b CROSS JOIN LATERAL {BLOCK_READINGS}"


def _pg_time(us: int) -> pd.Timestamp:
    """A UTC time from µs since the Unix epoch, as a query parameter."""
    return pd.Timestamp(us, unit="us", tz="UTC").to_pydatetime()


def _range(start: pd.Timestamp, end: pd.Timestamp) -> dict[str, Any]:
    """Query parameters of ``start <= time < end``: times t0, t1 and the UTC dates d0..d1 it covers."""
    last = end - pd.Timedelta(microseconds=1)
    return {
        "t0": start.to_pydatetime(),
        "t1": end.to_pydatetime(),
        "d0": start.tz_convert("UTC").date(),
        "d1": max(last, start).tz_convert("UTC").date(),
    }


def _epoch_us_of(t: Any) -> int:
    """µs since the Unix epoch of a timezone-aware datetime."""
    return int(pd.Timestamp(t).value // 1000)


def _day_keys(codes: list[int], pg_days: list[int]) -> np.ndarray:
    """Sensor-day keys (:func:`tirta.telemetry.store.pgblocks.sensor_days`) of days since 2000."""
    days = np.asarray(pg_days, dtype=np.int64) + PG_EPOCH_DAY
    return sensor_days(np.asarray(codes, dtype=np.int64), days * DAY_US)


def _unpack_blocks(rows: Sequence[tuple[Any, ...]], position: dict[str, int]) -> Coded:
    """Readings of blocks fetched as :data:`BLOCK_FETCH` (columns after those are ignored), one block
    after the other; codes from ``position`` (sensor id to code)."""
    names = list(position)
    if not rows:
        return Coded(names, np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    sensors, vals, times, t0, step, n = (list(c) for c in zip(*(r[:6] for r in rows), strict=True))
    values, counts = decode_arrays(vals, "v")
    time_us = block_times(
        times,
        np.array(t0, dtype=np.int64),
        np.array([-1 if x is None else x for x in step], dtype=np.int64),
        np.array(n, dtype=np.int64),
    )
    codes = np.repeat(np.array([position[s] for s in sensors], dtype=np.int64), counts)
    return Coded(names, codes, time_us, values)


def _date(unix_day: int) -> Any:
    """A Python date from days since the Unix epoch."""
    return (pd.Timestamp(0) + pd.Timedelta(days=unix_day)).date()
