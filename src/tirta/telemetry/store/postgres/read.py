"""The PostgreSQL store's reads: rows and blocks of a range fetched in one snapshot as binary
arrays, flagged readings masked, buckets aggregated on the server or in NumPy."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tirta.telemetry.store.pgblocks import DAY_US
from tirta.telemetry.store.pgcopy import PG_EPOCH_US
from tirta.telemetry.store.postgres.connection import PostgresBase
from tirta.telemetry.store.postgres.shared import (
    BLOCK_FETCH,
    _epoch_us_of,
    _range,
    _unpack_blocks,
)

__all__ = ["Reads"]

# a reading inside a stored quality flag reads as NULL (NaN) with ``clean``
CLEAN_VALUE = """CASE WHEN EXISTS (SELECT 1 FROM flags f WHERE f.sensor = r.sensor
    AND r.time BETWEEN f."start" AND f."end") THEN NULL ELSE r.value END"""

BLOCKS_IN_RANGE = f"""
SELECT {BLOCK_FETCH} FROM blocks
WHERE sensor = ANY(%(ids)s::text[]) AND day >= %(d0)s AND day <= %(d1)s AND t1 >= %(t0)s AND t0 < %(t1)s
"""
ROWS_IN_RANGE = """(SELECT * FROM readings
    WHERE sensor = ANY(%(ids)s::text[]) AND time >= %(t0)s AND time < %(t1)s)"""


def _aggregate(long: pd.DataFrame, every_s: int, agg: str, *, grouped: bool) -> pd.DataFrame:
    """(k, t, value) readings into buckets of ``every_s`` seconds (aligned as ``date_bin`` from
    2000-01-01) with the SQL aggregate ``agg`` (avg, min, max, count), NaN (flagged) left out.
    ``grouped``: each bucket's readings are already next to each other (blocks, a width dividing a day)."""
    k = long["k"].to_numpy(dtype=np.int64)
    t = long["t"].to_numpy(dtype=np.int64)
    v = long["value"].to_numpy(dtype=float)
    if not len(k):
        return pd.DataFrame({"k": [], "t": [], "value": []})
    width = every_s * 1_000_000
    b = PG_EPOCH_US + np.floor_divide(t - PG_EPOCH_US, width) * width
    if not grouped or DAY_US % width:
        order = np.lexsort((b, k))
        k, b, v = k[order], b[order], v[order]
    first = np.flatnonzero(np.concatenate([[True], (np.diff(k) != 0) | (np.diff(b) != 0)]))
    ok = ~np.isnan(v)
    n = np.add.reduceat(ok.astype(np.int64), first)
    if agg == "count":
        value = n.astype(float)
    elif agg == "avg":
        total = np.add.reduceat(np.where(ok, v, 0.0), first)
        value = np.divide(total, n, out=np.full(len(n), np.nan), where=n > 0)
    elif agg in ("min", "max"):
        value = (np.fmin if agg == "min" else np.fmax).reduceat(v, first)
    else:
        raise ValueError(f"unknown aggregate {agg!r}")
    return pd.DataFrame({"k": k[first], "t": b[first], "value": value})


class Reads(PostgresBase):
    """Reading readings (raw, resampled, cleaned of flagged ones) and stored rollups."""

    def _read_long(
        self,
        sensors: list[str],
        start: pd.Timestamp,
        end: pd.Timestamp,
        every_s: int | None,
        agg: str,
        *,
        clean: bool = False,
    ) -> pd.DataFrame:
        self._check_open()
        params = _range(start, end)
        params["ids"] = sensors
        raw = f"SELECT r.sensor, r.time AS t, r.value FROM {ROWS_IN_RANGE} r"
        # without blocks in the range, the server masks flags and aggregates the rows
        value = CLEAN_VALUE if clean else "r.value"
        if every_s is None:
            rows = f"SELECT r.sensor, r.time AS t, {value} AS value FROM {ROWS_IN_RANGE} r"
        else:
            params["width"] = every_s
            bucket = "date_bin(make_interval(secs => %(width)s), r.time, TIMESTAMPTZ '2000-01-01 00:00:00+00')"
            rows = (
                f"SELECT r.sensor, {bucket} AS t, {agg}({value}) AS value "
                f"FROM {ROWS_IN_RANGE} r GROUP BY 1, 2"
            )
        stored, packed = self._fetch_series(rows, params, sensors, with_blocks=raw)
        if packed.empty:
            return stored
        # blocks are unpacked here, in (sensor, time) order within each; rows join them in order
        grouped = stored.empty
        long = packed if grouped else pd.concat([packed, stored], ignore_index=True)
        if clean:
            long = self._mask_flags(long, sensors, start, end)
        if every_s is None:
            return long
        return _aggregate(long, every_s, agg, grouped=grouped)

    def _mask_flags(
        self, long: pd.DataFrame, sensors: list[str], start: pd.Timestamp, end: pd.Timestamp
    ) -> pd.DataFrame:
        """Readings inside a stored quality flag (its start and end included) become NaN."""
        flags = self._flags(sensors, start, end)
        if flags.empty:
            return long
        position = {sid: i for i, sid in enumerate(sensors)}
        k, t = long["k"].to_numpy(), long["t"].to_numpy(dtype=np.int64)
        hit = np.zeros(len(long), dtype=bool)
        for sensor, lo, hi in flags[["sensor", "start", "end"]].itertuples(index=False):
            hit |= (k == position[sensor]) & (t >= _epoch_us_of(lo)) & (t <= _epoch_us_of(hi))
        out = long.copy()
        out.loc[hit, "value"] = np.nan
        return out

    def _fetch_series(
        self, rows: str, params: Any, sensors: list[str], *, with_blocks: str | None = None
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(sensor, t, value) rows as a long (k, t, value) frame. With ``with_blocks`` (a query of raw
        rows) the readings of the range stored in blocks come too, in the same snapshot (a compaction
        moving rows meanwhile is seen whole or not at all); when there are some, ``with_blocks`` is
        read instead of ``rows``. The server packs rows into binary arrays (int64 µs since 2000,
        float8), one row per sensor and UTC day (far below the 1 GB limit of a value even at 100 Hz):
        one Python call per row of the answer, not per reading."""

        def packed_sql(query: str) -> str:
            return (
                "SELECT sensor, string_agg(timestamptz_send(t), ''::bytea), "
                "string_agg(coalesce(float8send(value), float8send('NaN')), ''::bytea) "
                f"FROM ({query}) x GROUP BY sensor, t::date"  # the session time zone is UTC
            )

        def run() -> tuple[list[tuple[str, bytes, bytes]], list[tuple[Any, ...]]]:
            with self._r.transaction(), self._r.cursor(binary=True) as cur:
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                # aggregates of a year of readings fit in memory; JIT only costs time for these plans
                cur.execute("SET LOCAL work_mem = '128MB'")
                cur.execute("SET LOCAL jit = off")
                blocks = []
                if with_blocks is not None:
                    blocks = list(cur.execute(BLOCKS_IN_RANGE, params).fetchall())
                query = with_blocks if blocks and with_blocks is not None else rows
                return list(cur.execute(packed_sql(query), params).fetchall()), blocks

        with self._read_lock:
            got, packed = self._retrying(run, reader=True)
        position = {sid: i for i, sid in enumerate(sensors)}
        empty = pd.DataFrame({"k": [], "t": [], "value": []})
        stored = empty
        if got:
            ks = [np.full(len(t) // 8, position[s], dtype=np.int32) for s, t, _ in got]
            ts = [np.frombuffer(t, dtype=">i8") for _, t, _ in got]
            vs = [np.frombuffer(v, dtype=">f8") for _, _, v in got]
            stored = pd.DataFrame(
                {
                    "k": np.concatenate(ks),
                    "t": np.concatenate(ts).astype(np.int64) + PG_EPOCH_US,
                    "value": np.concatenate(vs).astype(float),
                }
            )
        if not packed:
            return stored, empty
        blocks = _unpack_blocks(packed, position)
        k, t, v = blocks.codes.astype(np.int32), blocks.time_us, blocks.value
        keep = (t >= _epoch_us_of(params["t0"])) & (t < _epoch_us_of(params["t1"]))
        if not keep.all():
            t, k, v = t[keep], k[keep], v[keep]
        return stored, pd.DataFrame({"k": k, "t": t, "value": v})

    def _read_rollup(
        self, sensors: list[str], start: pd.Timestamp, end: pd.Timestamp, width_s: int, column: str
    ) -> pd.DataFrame:
        self._check_open()
        rows = (
            f'SELECT r.sensor, r.bucket AS t, r."{column}"::double precision AS value FROM rollups r '
            "WHERE r.sensor = ANY(%(ids)s::text[]) AND r.width_s = %(w)s "
            "AND r.bucket >= %(t0)s AND r.bucket < %(t1)s"
        )
        params = {
            "ids": sensors,
            "w": width_s,
            "t0": start.to_pydatetime(),
            "t1": end.to_pydatetime(),
        }
        return self._fetch_series(rows, params, sensors)[0]
