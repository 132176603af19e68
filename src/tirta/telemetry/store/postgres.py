"""The production store: PostgreSQL through psycopg 3, bulk loads by binary ``COPY``.

Readings live in two tables: ``readings``, one row per reading (a TimescaleDB hypertable when the
extension is available, a plain table with a (time, sensor) key otherwise), where live data lands, and
``blocks``, one row per sensor and UTC day holding that day's readings as arrays
(:mod:`tirta.telemetry.store.pgblocks`), where bulk loads land and :meth:`PostgresStore.compact` moves
older rows. A (sensor, time) key is in one of them only: writers take a transaction lock per 32-day
window they touch, so a row and a block for the same sensor and day are never written at once. Any
number of processes may write at once.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from tirta.errors import StoreError
from tirta.network.sensors import SensorRegistry
from tirta.telemetry.schema import IngestResult, Progress, WriteCounts, utc_time
from tirta.telemetry.store.base import (
    EVERY,
    SENSOR_COLUMNS,
    Batch,
    Store,
    _changed_meanwhile,
    _quarantine,
    registry_from_frame,
)
from tirta.telemetry.store.pgblocks import (
    BLOCK_READINGS,
    DAY_US,
    PG_EPOCH_DAY,
    block_rows,
    block_times,
    decode_arrays,
    first_of_each,
    merge,
    occurrences,
    pack,
    sensor_days,
    subset,
)
from tirta.telemetry.store.pgcopy import HEADER, PG_EPOCH_US, TRAILER, Coded, binary_rows
from tirta.telemetry.store.records import POSTGRES_RECORDS, Record, decode_rows
from tirta.telemetry.validate import (
    check,
    checked_drop,
    memory_connection,
    raw_table,
    valid_rows,
)

try:
    import psycopg
    from psycopg.copy import QueuedLibpqWriter
except ImportError:  # pragma: no cover - depends on the installed extras
    psycopg = None  # type: ignore[assignment]

__all__ = ["PostgresStore"]

T = TypeVar("T")

_TIMESTAMPTZ = 1184  # PostgreSQL type oid of timestamptz
COPY_CHUNK = 50_000  # rows per COPY chunk; progress is reported between chunks
BINARY_CHUNK = 500_000  # readings per binary COPY chunk (~17 MB)
ANALYZE_ROWS = 200_000  # new rows in one write after which the planner statistics are refreshed
_SCHEMA_LOCK = 0x7469727461  # advisory lock id while creating tables ("tirta")
_WRITE_LOCK = 0x74697274  # first key of the per-window write locks ("tirt")
LOCK_DAYS = 32  # days per write-lock window
LOCK_SPAN = 24  # windows a write may lock whether or not it has readings in each

READING_COLUMNS = (
    'sensor text COLLATE "C" NOT NULL, time timestamptz NOT NULL, value double precision NOT NULL'
)
SCHEMA = """
CREATE TABLE IF NOT EXISTS sensors (
    id text PRIMARY KEY, kind text NOT NULL, unit text NOT NULL, node text, link text,
    valid_min double precision NOT NULL, valid_max double precision NOT NULL, dma text,
    installed timestamptz, cumulative boolean NOT NULL DEFAULT false
);
CREATE TABLE IF NOT EXISTS blocks (
    sensor text COLLATE "C" NOT NULL, day date NOT NULL, t0 timestamptz NOT NULL,
    t1 timestamptz NOT NULL, n integer NOT NULL, step_us bigint, times timestamptz[],
    vals double precision[] NOT NULL, PRIMARY KEY (sensor, day),
    CONSTRAINT blocks_step_or_times CHECK ((step_us IS NULL) <> (times IS NULL))
);
CREATE INDEX IF NOT EXISTS blocks_day ON blocks (day);
CREATE TABLE IF NOT EXISTS reading_history (
    sensor text NOT NULL, time timestamptz NOT NULL, value double precision NOT NULL,
    replaced_at timestamptz NOT NULL, replaced_by text NOT NULL
);
CREATE INDEX IF NOT EXISTS reading_history_key ON reading_history (sensor, time);
CREATE TABLE IF NOT EXISTS quarantine (
    key text PRIMARY KEY, received_at timestamptz NOT NULL, last_seen timestamptz NOT NULL,
    times_seen bigint NOT NULL, source text NOT NULL, sensor text, payload text,
    reason text NOT NULL, detail text
);
CREATE TABLE IF NOT EXISTS events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, status text NOT NULL,
    detected_at timestamptz NOT NULL, start timestamptz, size_lps double precision,
    candidates jsonb, dma text
);
CREATE TABLE IF NOT EXISTS event_history (
    event_id bigint NOT NULL REFERENCES events (id), at timestamptz NOT NULL, who text NOT NULL,
    status text NOT NULL, note text
);
CREATE TABLE IF NOT EXISTS rollups (
    sensor text COLLATE "C" NOT NULL, width_s integer NOT NULL, bucket timestamptz NOT NULL,
    mean double precision NOT NULL, min double precision NOT NULL, max double precision NOT NULL,
    count bigint NOT NULL, PRIMARY KEY (sensor, width_s, bucket)
);
CREATE TABLE IF NOT EXISTS retention (id integer PRIMARY KEY, pruned_before timestamptz NOT NULL);
CREATE TABLE IF NOT EXISTS flags (
    sensor text COLLATE "C" NOT NULL, "start" timestamptz NOT NULL, "end" timestamptz NOT NULL,
    kind text NOT NULL, detail text, PRIMARY KEY (sensor, kind, "start")
);
"""
# newest first, then a total order (source, payload and reason are the key; text compared by code
# point, as Python does) for paging
QUARANTINE_ORDER = ", ".join(
    [f"{c} DESC NULLS LAST" for c in ("last_seen", "received_at")]
    + [f'{c} COLLATE "C" DESC NULLS LAST' for c in ("source", "sensor", "payload", "reason")]
)
# a reading inside a stored quality flag reads as NULL (NaN) with ``clean``
CLEAN_VALUE = """CASE WHEN EXISTS (SELECT 1 FROM flags f WHERE f.sensor = r.sensor
    AND r.time BETWEEN f."start" AND f."end") THEN NULL ELSE r.value END"""
# staging: readings arrive by binary COPY (tirta.telemetry.store.pgcopy), quarantine rows as CSV
STAGING = """
CREATE TEMP TABLE IF NOT EXISTS _in (sensor text COLLATE "C", time timestamptz,
    value double precision) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS _old (sensor text COLLATE "C", time timestamptz,
    value double precision, old double precision) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS _blk (LIKE blocks) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS _hist (sensor text COLLATE "C", time timestamptz,
    old double precision) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS _mv (sensor text COLLATE "C", time timestamptz,
    value double precision) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS _q_raw (received_at bigint, source text, sensor text, payload text,
    reason text, detail text) ON COMMIT DELETE ROWS;
"""
# readings of the batch already stored (only keys in the batch's time range: the key's first column)
MERGE_OLD = """
INSERT INTO _old SELECT i.sensor, i.time, i.value, r.value
FROM _in i JOIN readings r ON r.sensor = i.sensor AND r.time = i.time
WHERE r.time BETWEEN %(t0)s AND %(t1)s
"""
MERGE_HISTORY = """
INSERT INTO reading_history (sensor, time, value, replaced_at, replaced_by)
SELECT sensor, time, old, now(), %(source)s FROM _old WHERE old <> value
"""
MERGE_UPDATE = """
UPDATE readings r SET value = o.value FROM _old o
WHERE r.sensor = o.sensor AND r.time = o.time AND o.old <> o.value
"""
# a new time range is copied straight into readings; if another writer raced us to a key, the
# savepoint is rolled back and the batch staged and merged key by key
FRESH = "SELECT NOT EXISTS (SELECT 1 FROM readings WHERE time BETWEEN %(t0)s AND %(t1)s)"
APPEND = "INSERT INTO readings (sensor, time, value) SELECT sensor, time, value FROM _in"
MERGE_INSERT = """
INSERT INTO readings (sensor, time, value)
SELECT sensor, time, value FROM _in i
WHERE NOT EXISTS (SELECT 1 FROM _old o WHERE o.sensor = i.sensor AND o.time = i.time)
ON CONFLICT (sensor, time) DO NOTHING
"""
# blocks whose readings changed (staged in _blk) replace the stored ones; replaced values go to history
BLOCK_UPDATE = """
UPDATE blocks b SET t0 = x.t0, t1 = x.t1, n = x.n, step_us = x.step_us, times = x.times,
    vals = x.vals
FROM _blk x WHERE b.sensor = x.sensor AND b.day = x.day
"""
BLOCK_HISTORY = """
INSERT INTO reading_history (sensor, time, value, replaced_at, replaced_by)
SELECT sensor, time, old, now(), %(source)s FROM _hist
"""
BLOCK_COPY = "COPY {} (sensor, day, t0, t1, n, step_us, times, vals) FROM STDIN (FORMAT binary)"
# a block fetched whole: sensor, values, then its times as array_send(times), t0 in µs since the Unix
# epoch, step_us and n (see _unpack_blocks)
BLOCK_FETCH = (
    "sensor, array_send(vals), array_send(times), (extract(epoch FROM t0) * 1000000)::bigint, step_us, n"
)
STORED_BLOCKS = f"""
SELECT {BLOCK_FETCH}, day - date '2000-01-01' FROM blocks
WHERE sensor = ANY(%(ids)s::text[]) AND day >= %(d0)s AND day <= %(d1)s
"""
DAYS_WITH_ROWS = """
SELECT DISTINCT sensor, time::date - date '2000-01-01' FROM readings
WHERE sensor = ANY(%(ids)s::text[]) AND time >= %(t0)s AND time < %(t1)s
"""


BLOCKS_IN_RANGE = f"""
SELECT {BLOCK_FETCH} FROM blocks
WHERE sensor = ANY(%(ids)s::text[]) AND day >= %(d0)s AND day <= %(d1)s AND t1 >= %(t0)s AND t0 < %(t1)s
"""
ROWS_IN_RANGE = """(SELECT * FROM readings
    WHERE sensor = ANY(%(ids)s::text[]) AND time >= %(t0)s AND time < %(t1)s)"""


# the readings of blocks ``b`` as rows (sensor, time, value); a WHERE may follow
BLOCK_ROWS = f"SELECT b.sensor, u.time, u.value FROM blocks b CROSS JOIN LATERAL {BLOCK_READINGS}"


def _all_readings(sensors: bool) -> str:
    """Rows and unpacked blocks as one (sensor, time, value) relation for ``%(t0)s <= time < %(t1)s``
    (blocks picked by ``%(d0)s``..``%(d1)s``), of the sensors ``%(ids)s`` when ``sensors``."""
    rows = "readings r WHERE r.time >= %(t0)s AND r.time < %(t1)s"
    blocks = "b.day >= %(d0)s AND b.day <= %(d1)s AND u.time >= %(t0)s AND u.time < %(t1)s"
    if sensors:
        rows += " AND r.sensor = ANY(%(ids)s::text[])"
        blocks += " AND b.sensor = ANY(%(ids)s::text[])"
    return f"(SELECT r.sensor, r.time, r.value FROM {rows} UNION ALL {BLOCK_ROWS} WHERE {blocks})"


# every reading, rows and blocks alike, for SQL and GIS tools (created once: replacing a view waits
# for the queries that read it)
ALL_READINGS = f"""
CREATE VIEW all_readings AS
SELECT sensor, time, value FROM readings
UNION ALL
{BLOCK_ROWS}
"""
# rows of whole days before %(before)s (from %(lo)s) packed into blocks, merged with stored blocks
COMPACT_MOVE = """
WITH moved AS (DELETE FROM readings WHERE time >= %(lo)s AND time < %(before)s
               RETURNING sensor, time, value)
INSERT INTO _mv SELECT * FROM moved
"""
# evenly spaced days (one distinct gap, or a single reading) keep the step, as bulk loads do
COMPACT_PACK = f"""
INSERT INTO blocks (sensor, day, t0, t1, n, step_us, times, vals)
SELECT sensor, day, t0, t1, n, CASE WHEN gaps <= 1 THEN step_us END,
       CASE WHEN gaps > 1 THEN times END, vals
FROM (SELECT sensor, day, min(time) AS t0, max(time) AS t1, count(*) AS n,
             count(DISTINCT gap) AS gaps,
             coalesce((extract(epoch FROM max(gap)) * 1000000)::bigint, 0) AS step_us,
             array_agg(time ORDER BY time) AS times, array_agg(value ORDER BY time) AS vals
      FROM (SELECT sensor, day, time, value,
                   time - lag(time) OVER (PARTITION BY sensor, day ORDER BY time) AS gap
            FROM (SELECT sensor, time::date AS day, time, value FROM _mv
                  UNION ALL
                  SELECT b.sensor, b.day, u.time, u.value
                  FROM blocks b CROSS JOIN LATERAL {BLOCK_READINGS}
                  WHERE (b.sensor, b.day) IN (SELECT DISTINCT sensor, time::date FROM _mv)) x) y
      GROUP BY sensor, day) g
ON CONFLICT (sensor, day) DO UPDATE SET t0 = excluded.t0, t1 = excluded.t1, n = excluded.n,
    step_us = excluded.step_us, times = excluded.times, vals = excluded.vals
"""
QUARANTINE = """
INSERT INTO quarantine
SELECT md5(source || chr(31) || coalesce(payload, '') || chr(31) || reason), min(received_at),
       max(received_at), count(*), source, min(sensor), payload, reason, min(detail)
FROM (SELECT timestamptz 'epoch' + received_at * interval '1 microsecond' AS received_at,
             source, sensor, payload, reason, detail FROM _q_raw) q
GROUP BY source, payload, reason
ON CONFLICT (key) DO UPDATE SET last_seen = excluded.last_seen,
    times_seen = quarantine.times_seen + excluded.times_seen
"""


def _epoch_us(frame: pd.DataFrame) -> pd.DataFrame:
    """Datetime columns as integer microseconds since the epoch (UTC)."""
    out = frame.copy(deep=False)
    for col in frame.columns:
        if isinstance(frame[col].dtype, pd.DatetimeTZDtype):
            out[col] = frame[col].dt.tz_convert("UTC").astype("datetime64[us, UTC]").astype("int64")
    return out


def _pg_time(us: int) -> pd.Timestamp:
    """A UTC time from µs since the Unix epoch, as a query parameter."""
    return pd.Timestamp(us, unit="us", tz="UTC").to_pydatetime()


def _stream(
    cur: Any,
    sql: str,
    chunks: Iterator[tuple[bytes, int]],
    state: dict[str, int] | None = None,
    total: int = 0,
    progress: Progress | None = None,
) -> None:
    """A binary ``COPY ... FROM STDIN`` of ``chunks`` (data, readings in it); with ``state`` the
    readings done are counted and reported to ``progress`` between chunks."""
    # the queued writer sends from a thread of its own: the next chunk is built while the server
    # takes in this one
    with cur.copy(sql, writer=QueuedLibpqWriter(cur)) as copy:
        copy.write(HEADER)
        for data, rows in chunks:
            copy.write(data)
            if state is not None:
                state["done"] += rows
                if progress is not None:
                    progress(state["done"], total)
        copy.write(TRAILER)


def _by_sensor(
    con: Any, order: str | None, names: list[str], round_: int | None = None, *, all_valid: bool = False
) -> Coded:
    """The valid readings of a check (:mod:`tirta.telemetry.validate`) sorted by (sensor, time), the
    order blocks are packed in. Time-major input needs only a stable sort by sensor (radix, in NumPy),
    or just a transpose when every time step holds the same sensors. With ``round_``, only those of
    that round of corrections within the batch; ``all_valid`` says no row of the check is rejected."""
    rows = "_chk" if all_valid and round_ is None else valid_rows(round_)
    n = int(con.execute(f"SELECT count(*) FROM {rows}").fetchall()[0][0])
    select = f"SELECT k, epoch_us(time) AS t, value FROM {rows}"
    if order is None:  # DuckDB sorts on every core
        select += " ORDER BY k, t"
    k, t, v = _fetch_columns(con, select, n, [np.int32, np.int64, np.float64])
    if order == "time" and len(k):
        k, t, v = _time_to_sensor_major(k, t, v, len(names))
    return Coded(names, k.astype(np.int64, copy=False), t, v)


def _fetch_columns(con: Any, sql: str, n: int, dtypes: list[Any]) -> list[np.ndarray]:
    """The ``n`` rows of a DuckDB query without NULLs as NumPy arrays, batch after batch into arrays
    made once: a whole Arrow table would be copied again, and fresh memory is slow to touch."""
    out = [np.empty(n, dtype) for dtype in dtypes]
    at = 0
    for batch in con.sql(sql).fetch_arrow_reader(1 << 17):
        m = batch.num_rows
        for column, array in zip(batch.columns, out, strict=True):
            array[at : at + m] = column.to_numpy()
        at += m
    if at != n:
        raise RuntimeError(f"query gave {at} rows, counted {n}")
    return out


def _time_to_sensor_major(
    k: np.ndarray, t: np.ndarray, v: np.ndarray, n_names: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Readings strictly by (time, sensor) re-ordered by (sensor, time): a stable sort by sensor. When
    every time step holds the same sensors (a logger export, say), the readings form a (time ×
    sensor) grid, each row's sensors ascending (a row may span several times), and the sort is a
    transpose."""
    repeat = np.flatnonzero(k[1 : n_names + 1] == k[0])  # a grid row ends where its first sensor recurs
    width = int(repeat[0]) + 1 if len(repeat) else len(k)
    if len(k) % width == 0:
        grid = k.reshape(-1, width)
        if bool(np.all(np.diff(grid[0]) > 0)) and bool((grid == grid[0]).all()):
            times = t.reshape(-1, width)
            column = times[:, 0]
            same = bool((times == column[:, None]).all())  # each row one time (not a staircase)
            return (
                np.repeat(grid[0].astype(np.int64), len(grid)),
                np.tile(column, width) if same else _transpose(t, width),
                _transpose(v, width),
            )
    narrow = np.int16 if n_names <= np.iinfo(np.int16).max else np.int32
    by = np.argsort(k.astype(narrow), kind="stable")
    return k[by], t[by], v[by]


def _transpose(a: np.ndarray, width: int, tile: int = 1024) -> np.ndarray:
    """A (rows × ``width``) array, flat, transposed to (``width`` × rows), flat: ``tile`` rows at a
    time, so the strided reads stay within a few memory pages (far faster on a virtual machine)."""
    rows = len(a) // width
    out = np.empty_like(a)
    into, grid = out.reshape(width, rows), a.reshape(rows, width)
    for lo in range(0, rows, tile):
        into[:, lo : lo + tile] = grid[lo : lo + tile].T
    return out


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


def _redact(url: str) -> str:
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


class PostgresStore(Store):
    """Telemetry in a PostgreSQL database; one writer connection and one reader connection, each
    reconnected (with backoff, for up to ``reconnect_s`` seconds) when the server goes away."""

    #: how long to keep trying to reconnect after a lost connection before failing the operation, s
    reconnect_s = 60.0
    #: batches with at least this many readings store sensor-days that have no rows yet as blocks
    block_rows = 10_000

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.reconnects = 0  # reconnection attempts so far
        self._read_lock = threading.Lock()
        if psycopg is None:
            raise StoreError("PostgreSQL support needs psycopg: pip install 'tirta[postgres]'")
        self._w = self._connect()
        self._r = self._connect()
        self._r.autocommit = True
        self.timescale = False
        self.partitioned = False  # readings partitioned by month (without TimescaleDB)
        self._partitions: set[str] = set()  # monthly partitions known to exist
        try:
            with self._w.transaction():
                self._w.execute("SELECT pg_advisory_xact_lock(%s)", [_SCHEMA_LOCK])
                self.partitioned = self._create_readings()
                self._w.execute(SCHEMA)
                self._w.execute(POSTGRES_RECORDS)
                self._tune_blocks()
                self.timescale = not self.partitioned and self._hypertable()
                if self._w.execute("SELECT to_regclass('all_readings')").fetchone() == (None,):
                    self._w.execute(ALL_READINGS)
            with self._w.transaction():
                self._w.execute(STAGING)
        except psycopg.Error as exc:
            self._close()
            raise StoreError(f"cannot prepare store {self.display_url}: {exc}") from None

    @property
    def display_url(self) -> str:
        return _redact(self.url)

    def _connect(self) -> Any:
        try:
            con = psycopg.connect(self.url, connect_timeout=10)
        except psycopg.Error as exc:
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StoreError(f"cannot connect to PostgreSQL store {self.display_url}: {msg}") from None
        con.execute("SET TIME ZONE 'UTC'")
        con.commit()
        return con

    def _tune_blocks(self) -> None:
        """Once per database: blocks of an older tirta (times always listed) gain ``step_us``; no
        planner statistics on the arrays (ANALYZE would unpack thousands of blocks) and LZ4
        compression where the server has it (loads twice as fast as the default pglz, for about the
        same size). Skipped when done, as ALTER TABLE waits for running queries."""
        w = self._w
        stepped = w.execute(
            "SELECT count(*) FROM pg_attribute WHERE attrelid = 'blocks'::regclass "
            "AND attname = 'step_us' AND NOT attisdropped"
        ).fetchone()
        if not stepped or not stepped[0]:
            w.execute(
                "ALTER TABLE blocks ADD COLUMN step_us bigint, ALTER times DROP NOT NULL, "
                "ADD CONSTRAINT blocks_step_or_times CHECK ((step_us IS NULL) <> (times IS NULL))"
            )
        stats, lz4 = w.execute(
            "SELECT bool_and(attstattarget = 0), bool_and(attcompression = 'l') FROM pg_attribute "
            "WHERE attrelid = 'blocks'::regclass AND attname IN ('times', 'vals')"
        ).fetchone()
        if not stats:
            w.execute("ALTER TABLE blocks ALTER times SET STATISTICS 0, ALTER vals SET STATISTICS 0")
        if not lz4:
            try:
                with w.transaction():  # a savepoint: without LZ4 the default stays
                    w.execute(
                        "ALTER TABLE blocks ALTER times SET COMPRESSION lz4, "
                        "ALTER vals SET COMPRESSION lz4"
                    )
            except psycopg.Error:
                pass

    def _create_readings(self) -> bool:
        """Create the readings table if missing: plain (made a hypertable next) when TimescaleDB can
        be used, else partitioned by month (partitions are added as data arrives). Return whether it
        is partitioned; a table made by an older tirta stays as it is."""
        w = self._w
        found = w.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass('readings')").fetchone()
        if found is not None:
            return bool(found[0] == "p")
        if self._timescale_available():
            w.execute(f"CREATE TABLE readings ({READING_COLUMNS}, PRIMARY KEY (time, sensor))")
            return False
        w.execute(
            f"CREATE TABLE readings ({READING_COLUMNS}, PRIMARY KEY (time, sensor)) "
            "PARTITION BY RANGE (time)"
        )
        return True

    def _timescale_available(self) -> bool:
        w = self._w
        if not w.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'").fetchone():
            return False
        try:
            with w.transaction():
                w.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        except psycopg.Error:
            return False  # e.g. the library is not in shared_preload_libraries
        return True

    def _ensure_partitions(self, times: Sequence[np.ndarray]) -> None:
        """Add the monthly partitions of readings these times (µs since the epoch) fall in, each in a
        short transaction of its own: attaching takes a lock that lets reads and writes go on."""
        if not self.partitioned or not any(len(t) for t in times):
            return
        us = np.concatenate([t for t in times if len(t)]).astype("datetime64[us]")
        for month in np.unique(us.astype("datetime64[M]")):
            name = f"readings_p{str(month).replace('-', '')}"
            if name in self._partitions:
                continue
            lo, hi = f"{month}-01 00:00:00+00", f"{month + 1}-01 00:00:00+00"
            with self._w.transaction():
                self._w.execute("SELECT pg_advisory_xact_lock(%s)", [_SCHEMA_LOCK])
                if self._w.execute("SELECT to_regclass(%s)", [name]).fetchone()[0] is None:
                    self._w.execute(f"CREATE TABLE {name} ({READING_COLUMNS})")
                    # our own times (a DDL statement takes no parameters)
                    self._w.execute(
                        f"ALTER TABLE readings ATTACH PARTITION {name} FOR VALUES FROM ('{lo}') TO ('{hi}')"
                    )
            self._partitions.add(name)

    def _hypertable(self) -> bool:
        """Make readings a TimescaleDB hypertable when the extension is available; else keep it plain."""
        w = self._w
        if not w.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'").fetchone():
            return False
        try:
            with w.transaction():
                w.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
                w.execute(
                    "SELECT create_hypertable('readings', 'time', if_not_exists => TRUE, "
                    "migrate_data => TRUE)"
                )
        except psycopg.Error:
            return False  # e.g. the library is not in shared_preload_libraries
        return True

    def _close(self) -> None:
        for con in (getattr(self, "_w", None), getattr(self, "_r", None)):
            if con is not None:
                con.close()

    # --- lost connections -------------------------------------------------------------------------
    def _lost(self, con: Any, exc: Exception) -> bool:
        """Whether an error means the connection is gone (server restarted, network cut)."""
        return bool(con.closed or con.broken or isinstance(exc, psycopg.errors.AdminShutdown))

    def _reconnect_writer(self) -> None:
        con = self._connect()
        with con.transaction():
            con.execute(STAGING)  # temporary tables belong to the session that was lost
        old, self._w = self._w, con
        with contextlib.suppress(psycopg.Error):
            old.close()

    def _reconnect_reader(self) -> None:
        con = self._connect()
        con.autocommit = True
        old, self._r = self._r, con
        with contextlib.suppress(psycopg.Error):
            old.close()

    def _retrying(self, action: Callable[[], T], reader: bool = False) -> T:
        """Run ``action``; when the connection is lost, reconnect with exponential backoff (for up to
        ``reconnect_s`` seconds) and run it again. Writes are idempotent merges, so running a batch
        whose commit had an unknown outcome again stores it once."""
        delay, deadline = 0.05, time.monotonic() + self.reconnect_s
        while True:
            con = self._r if reader else self._w
            try:
                return action()
            except psycopg.OperationalError as exc:
                if not self._lost(con, exc):
                    raise
                if time.monotonic() + delay > deadline:
                    raise StoreError(
                        f"lost the connection to {self.display_url} and could not reconnect within "
                        f"{self.reconnect_s:g} s: {str(exc).strip() or type(exc).__name__}"
                    ) from None
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
            self.reconnects += 1
            with contextlib.suppress(StoreError):  # still down: back off and try again
                self._reconnect_reader() if reader else self._reconnect_writer()

    # --- writing ----------------------------------------------------------------------------------
    def _write_batches(self, batches: Sequence[Batch], progress: Progress | None) -> list[WriteCounts]:
        self._check_open()
        try:
            return self._retrying(lambda: self._write_once(batches, progress))
        except psycopg.Error as exc:
            raise StoreError(f"write to {self.display_url} failed and was rolled back: {exc}") from None

    def _write_once(self, batches: Sequence[Batch], progress: Progress | None) -> list[WriteCounts]:
        items = [(Coded.from_frame(b.readings), b.quarantine, b.source) for b in batches]
        return self._write_items(items, progress, unique=False)

    def _write_items(
        self,
        items: Sequence[tuple[Coded, pd.DataFrame | None, str]],
        progress: Progress | None,
        *,
        unique: bool = True,
    ) -> list[WriteCounts]:
        """Readings and quarantine rows of every item in one transaction, in order. Unless ``unique``
        (no key twice within an item), a key repeated within an item (a reading corrected in its
        batch) is merged in rounds, each occurrence after the one before."""
        total = sum(len(r) + (0 if q is None else len(q)) for r, q, _ in items)
        # a batch of block_rows or more adds rows only to sensor-days that have rows (and partitions)
        self._ensure_partitions([r.time_us for r, _, _ in items if len(r) < self.block_rows])
        state = {"done": 0, "readings": 0, "blocks": 0}  # progress; new rows, packed readings
        out: list[WriteCounts] = []
        with self._w.transaction(), self._w.cursor() as cur:
            self._lock_windows(cur, [r.time_us for r, _, _ in items])
            for readings, rejected, source in items:
                counts = WriteCounts()
                for part in [readings] if unique else occurrences(readings):
                    counts += self._merge_coded(cur, part, source, state, total, progress)
                # text cleaned for PostgreSQL (no NUL)
                quarantine = None if rejected is None else _quarantine(rejected)
                if quarantine is not None:
                    self._copy(cur, "_q_raw", quarantine, state, total, progress)
                    cur.execute(QUARANTINE)
                    cur.execute("TRUNCATE _q_raw")
                    counts = replace(counts, quarantined=len(quarantine))
                out.append(counts)
        if state["readings"] >= ANALYZE_ROWS or state["blocks"] >= ANALYZE_ROWS:
            tables = [t for t in ("readings", "blocks") if state[t] >= ANALYZE_ROWS]
            self._analyze(tables)
        if progress is not None:
            progress(total, total)
        return out

    def ingest(
        self,
        raw: pd.DataFrame | pa.Table,
        *,
        source: str,
        now: pd.Timestamp | None = None,
        progress: Progress | None = None,
    ) -> IngestResult:
        """Bulk loads are checked in DuckDB and copied to the server in binary: the readings never
        become Python objects or text."""
        table = raw_table(raw)
        if table.num_rows < self.bulk_rows and progress is None:
            return super().ingest(table, source=source, now=now)
        sensors = self.sensor_table()
        con = memory_connection()
        try:
            checked = check(con, table, sensors, source=source, now=now)
            names = [str(i) for i in sensors.index]
            if checked.rounds == 1:
                every = checked.valid == table.num_rows
                rounds = [_by_sensor(con, checked.order, names, all_valid=every)]
            else:  # readings corrected within the batch: one round after the other
                rounds = [_by_sensor(con, None, names, r) for r in range(checked.rounds)]
            quarantine = checked.quarantine()
        finally:
            checked_drop(con)
        if progress is not None:
            progress(0, sum(map(len, rounds)) + checked.rejected)
        items = [(r, quarantine if i == 0 else None, source) for i, r in enumerate(rounds)]
        self._check_open()
        with self._write_lock:
            try:
                counts = sum(self._retrying(lambda: self._write_items(items, progress)), WriteCounts())
            except psycopg.Error as exc:
                raise StoreError(
                    f"write to {self.display_url} failed and was rolled back: {exc}"
                ) from None
        return IngestResult(
            accepted=counts.inserted + counts.corrected,
            duplicate=counts.duplicate + checked.duplicates,
            quarantined=checked.rejected,
            corrected=counts.corrected,
            reasons=dict(checked.reasons),
        )

    def _analyze(self, tables: list[str]) -> None:
        """Refresh the planner's statistics after a bulk load (autovacuum comes much later); without
        them a year-long read picks an index scan and takes several times longer."""
        try:
            with self._w.transaction():
                self._w.execute(f"ANALYZE {', '.join(tables)}")
        except psycopg.Error:
            pass  # statistics are an optimisation; the load is committed

    @staticmethod
    def _lock_windows(cur: Any, times: Sequence[np.ndarray]) -> None:
        """Take the write lock of every 32-day window the times fall in, in order (no deadlock), until
        the transaction ends: rows and blocks of one sensor-day are then never written at once. Over
        a short span every window from the first time to the last is locked: finding the ones that
        hold readings would cost a pass over every time, more than waiting on a window seldom does."""
        spans = [(int(t.min()), int(t.max())) for t in times if len(t)]
        if not spans:
            return
        size = DAY_US * LOCK_DAYS
        first = min(lo for lo, _ in spans) // size
        last = max(hi for _, hi in spans) // size
        if last - first < LOCK_SPAN:
            windows = list(range(first, last + 1))
        else:  # a long span: only the windows with readings (each lock takes shared memory)
            held = np.concatenate([np.floor_divide(t, size) - first for t in times if len(t)])
            windows = (first + np.flatnonzero(np.bincount(held))).tolist()
        for w in windows:  # ascending
            cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_WRITE_LOCK, int(w)])

    def _merge_coded(
        self,
        cur: Any,
        readings: Coded,
        source: str,
        state: dict[str, int],
        total: int,
        progress: Progress | None,
    ) -> WriteCounts:
        """New readings, resent ones and corrections, in the caller's transaction (which holds the
        write locks of their windows): into the stored blocks of their sensor-days; else, for a large
        batch, as new blocks of the sensor-days without rows; else as rows."""
        n = len(readings)
        counts = WriteCounts()
        if n == 0:
            return counts
        stored = self._stored_blocks(cur, readings)
        if len(stored):
            days = sensor_days(stored.codes, stored.time_us)
            in_block = np.isin(sensor_days(readings.codes, readings.time_us), days)
            counts += self._merge_blocks(cur, stored, subset(readings, in_block), source)
            state["done"] += int(in_block.sum())
            readings = subset(readings, ~in_block)
        if len(readings) and n >= self.block_rows:
            with_rows = self._days_with_rows(cur, readings)
            fresh = pack(subset(readings, ~with_rows) if with_rows.any() else readings)
            if len(fresh):
                _stream(
                    cur,
                    BLOCK_COPY.format("blocks"),
                    block_rows(fresh, BINARY_CHUNK),
                    state,
                    total,
                    progress,
                )
                state["blocks"] += len(fresh.readings)
            counts += WriteCounts(len(fresh.readings), fresh.dropped, 0)
            readings = subset(readings, with_rows if with_rows.any() else np.zeros(0, np.int64))
        if progress is not None:
            progress(state["done"], total)
        if len(readings) == 0:
            return counts
        rows = self._merge_rows(cur, readings, source, state, total, progress)
        state["readings"] += rows.inserted
        return counts + rows

    def _stored_blocks(self, cur: Any, readings: Coded) -> Coded:
        """The stored readings of the blocks of the batch's sensor-days (codes into its names)."""
        params = {
            "ids": readings.names,
            "d0": _date(int(readings.time_us.min()) // DAY_US),
            "d1": _date(int(readings.time_us.max()) // DAY_US),
        }
        with cur.connection.cursor(binary=True) as bcur:
            got = bcur.execute(STORED_BLOCKS, params).fetchall()
        if not got:
            return Coded(readings.names, np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
        position = {name: i for i, name in enumerate(readings.names)}
        found = _day_keys([position[g[0]] for g in got], [g[6] for g in got])
        wanted = np.isin(found, sensor_days(readings.codes, readings.time_us)).tolist()
        return _unpack_blocks([g for g, keep in zip(got, wanted, strict=True) if keep], position)

    def _days_with_rows(self, cur: Any, readings: Coded) -> np.ndarray:
        """Which readings fall on a sensor-day that has rows in ``readings``."""
        params = {
            "ids": readings.names,
            "t0": _pg_time(int(readings.time_us.min()) // DAY_US * DAY_US),
            "t1": _pg_time((int(readings.time_us.max()) // DAY_US + 1) * DAY_US),
        }
        got = cur.execute(DAYS_WITH_ROWS, params).fetchall()
        if not got:
            return np.zeros(len(readings), dtype=bool)
        position = {name: i for i, name in enumerate(readings.names)}
        busy = _day_keys([position[s] for s, _ in got], [d for _, d in got])
        return np.isin(sensor_days(readings.codes, readings.time_us), busy)

    def _merge_blocks(self, cur: Any, stored: Coded, batch: Coded, source: str) -> WriteCounts:
        """Merge readings into their stored blocks: changed blocks are written back whole, replaced
        values go to the correction history."""
        batch, dropped = first_of_each(batch)
        merged = merge(stored, batch)
        if len(merged.blocks):
            _stream(cur, BLOCK_COPY.format("_blk"), block_rows(merged.blocks, BINARY_CHUNK))
            cur.execute(BLOCK_UPDATE)
        if len(merged.replaced):
            sql = "COPY _hist (sensor, time, old) FROM STDIN (FORMAT binary)"
            _stream(cur, sql, binary_rows(merged.replaced, BINARY_CHUNK))
            cur.execute(BLOCK_HISTORY, {"source": source})
        cur.execute("TRUNCATE _blk, _hist")
        return WriteCounts(merged.inserted, merged.duplicate + dropped, merged.corrected)

    def _merge_rows(
        self,
        cur: Any,
        readings: Coded,
        source: str,
        state: dict[str, int],
        total: int,
        progress: Progress | None,
    ) -> WriteCounts:
        """Readings of sensor-days without blocks, merged into ``readings`` row by row."""
        n = len(readings)
        span = {
            "t0": _pg_time(int(readings.time_us.min())),
            "t1": _pg_time(int(readings.time_us.max())),
        }
        done = state["done"]
        if cur.execute(FRESH, span).fetchone()[0]:
            try:
                with cur.connection.transaction():  # a savepoint inside the batch's transaction
                    self._copy_readings(cur, "readings", readings, state, total, progress)
                return WriteCounts(n, 0, 0)
            except psycopg.errors.UniqueViolation:
                state["done"] = done
        self._copy_readings(cur, "_in", readings, state, total, progress)
        if n > COPY_CHUNK:
            cur.execute("ANALYZE _in")
        cur.execute(MERGE_OLD, span)
        stored = cur.rowcount
        corrected = inserted = 0
        if stored == 0 and self._append(cur):
            inserted = n
        else:
            cur.execute(MERGE_HISTORY, {"source": source})
            corrected = cur.rowcount
            if corrected:
                cur.execute(MERGE_UPDATE)
            if stored < n:
                cur.execute(MERGE_INSERT)
                inserted = cur.rowcount
        cur.execute("TRUNCATE _in, _old")
        return WriteCounts(inserted, n - inserted - corrected, corrected)

    @staticmethod
    def _append(cur: Any) -> bool:
        """Insert the whole staged batch; False (and nothing written) when a key already exists."""
        try:
            with cur.connection.transaction():  # a savepoint inside the batch's transaction
                cur.execute(APPEND)
        except psycopg.errors.UniqueViolation:
            return False
        return True

    @staticmethod
    def _copy_readings(
        cur: Any,
        table_name: str,
        readings: Coded,
        state: dict[str, int],
        total: int,
        progress: Progress | None,
    ) -> None:
        """Stream readings into ``table_name`` (sensor, time, value) by binary COPY, in chunks."""
        sql = f"COPY {table_name} (sensor, time, value) FROM STDIN (FORMAT binary)"
        _stream(cur, sql, binary_rows(readings, BINARY_CHUNK), state, total, progress)

    def _copy(
        self,
        cur: Any,
        table_name: str,
        frame: pd.DataFrame,
        state: dict[str, int],
        total: int,
        progress: Progress | None,
    ) -> None:
        """Stream ``frame`` into a staging table as CSV written by Arrow, in chunks for progress."""
        columns = ", ".join(frame.columns)
        table = pa.Table.from_pandas(_epoch_us(frame), preserve_index=False)
        options = pacsv.WriteOptions(include_header=False)
        with cur.copy(f"COPY {table_name} ({columns}) FROM STDIN (FORMAT csv)") as copy:
            for lo in range(0, len(frame), COPY_CHUNK):
                out = pa.BufferOutputStream()
                pacsv.write_csv(table.slice(lo, COPY_CHUNK), out, options)
                copy.write(out.getvalue().to_pybytes())
                state["done"] += min(COPY_CHUNK, len(frame) - lo)
                if progress is not None:
                    progress(state["done"], total)

    # --- reading ----------------------------------------------------------------------------------
    def _query(self, sql: str, params: Any = None) -> pd.DataFrame:
        self._check_open()

        def run() -> tuple[pd.DataFrame, list[str]]:
            with self._r.cursor() as cur:
                cur.execute(sql, params)
                names = [d.name for d in cur.description or []]
                times = [d.name for d in cur.description or [] if d.type_code == _TIMESTAMPTZ]
                return pd.DataFrame(cur.fetchall(), columns=names), times

        with self._read_lock:
            frame, times = self._retrying(run, reader=True)
        for col in times:
            frame[col] = pd.to_datetime(frame[col], utc=True).astype("datetime64[us, UTC]")
        return frame

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

    # --- retention and rollups -----------------------------------------------------------------------
    def pruned_before(self) -> pd.Timestamp | None:
        frame = self._query("SELECT pruned_before FROM retention WHERE id = 1")
        return None if frame.empty else pd.Timestamp(frame["pruned_before"].iloc[0])

    def _raw_span(self) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
        frame = self._query(
            "SELECT least((SELECT min(time) FROM readings), (SELECT min(t0) FROM blocks "
            "WHERE day = (SELECT min(day) FROM blocks))) AS lo, "
            "greatest((SELECT max(time) FROM readings), (SELECT max(t1) FROM blocks "
            "WHERE day = (SELECT max(day) FROM blocks))) AS hi"
        )
        lo, hi = frame["lo"].iloc[0], frame["hi"].iloc[0]
        if pd.isna(lo):
            return None, None
        return pd.Timestamp(lo), pd.Timestamp(hi)

    def _rollup(self, start: pd.Timestamp, end: pd.Timestamp) -> int:
        params = _range(start, end)
        bucket = "date_bin(make_interval(secs => %(w)s), time, TIMESTAMPTZ '2000-01-01 00:00:00+00')"

        def run() -> int:
            n = 0
            with self._w.transaction(), self._w.cursor() as cur:
                for width in EVERY.values():
                    params["w"] = width
                    cur.execute(
                        "DELETE FROM rollups WHERE width_s = %(w)s AND bucket >= %(t0)s AND bucket < %(t1)s",
                        params,
                    )
                    cur.execute(
                        f"INSERT INTO rollups SELECT sensor, %(w)s, {bucket} AS b, avg(value), min(value), "
                        f"max(value), count(*) FROM {_all_readings(sensors=False)} r GROUP BY sensor, b",
                        params,
                    )
                    n += cur.rowcount
            return n

        try:
            return self._retrying(run)  # idempotent: the same buckets are rewritten
        except psycopg.Error as exc:
            raise StoreError(f"rollup in {self.display_url} failed: {exc}") from None

    def _prune(self, cut: pd.Timestamp) -> int:
        def run() -> int:
            self._ensure_partitions([np.array([_epoch_us_of(cut)])])  # for a block across the cut
            at = {"cut": cut.to_pydatetime()}
            with self._w.transaction(), self._w.cursor() as cur:
                cur.execute("DELETE FROM readings WHERE time < %(cut)s", at)
                deleted = int(cur.rowcount)
                # a block across the cut (the cut is midnight UTC, so only a block written by hand)
                # keeps its later readings as rows
                self._lock_windows(cur, [np.array([_epoch_us_of(at["cut"])])])
                cur.execute(
                    f"INSERT INTO readings {BLOCK_ROWS} "
                    "WHERE b.t0 < %(cut)s AND b.t1 >= %(cut)s AND u.time >= %(cut)s",
                    at,
                )
                kept = int(cur.rowcount)
                cur.execute("DELETE FROM blocks WHERE t0 < %(cut)s RETURNING n", at)
                deleted += sum(int(n) for (n,) in cur.fetchall()) - kept
                cur.execute(
                    "INSERT INTO retention VALUES (1, %s) ON CONFLICT (id) DO UPDATE SET "
                    "pruned_before = greatest(retention.pruned_before, excluded.pruned_before)",
                    [cut.to_pydatetime()],
                )
            return deleted

        try:
            return self._retrying(run)
        except psycopg.Error as exc:
            raise StoreError(f"prune in {self.display_url} failed: {exc}") from None

    def compact(self, before: pd.Timestamp | str) -> int:
        """Pack the rows of the UTC days before ``before`` (rounded down to midnight UTC) into blocks,
        merged with the blocks stored for the same sensor-days; return how many readings moved.
        Live readings arrive as rows; packed, a year-long query reads their sensors' blocks only."""
        cut = utc_time(before, "before").floor("1D")
        self.flush()
        self._check_open()

        def run() -> int:
            with self._w.transaction(), self._w.cursor() as cur:
                first = cur.execute(
                    "SELECT min(time) FROM readings WHERE time < %s", [cut.to_pydatetime()]
                ).fetchone()[0]
                if first is None:
                    return 0
                span = DAY_US * LOCK_DAYS
                lo = _epoch_us_of(first) // span
                self._lock_windows(cur, [np.arange(lo, _epoch_us_of(cut) // span + 1) * span])
                cur.execute(COMPACT_MOVE, {"lo": _pg_time(lo * span), "before": cut.to_pydatetime()})
                moved = int(cur.rowcount)
                cur.execute(COMPACT_PACK)
                cur.execute("TRUNCATE _mv")
            return moved

        with self._write_lock:
            try:
                return self._retrying(run)
            except psycopg.Error as exc:
                raise StoreError(f"compaction in {self.display_url} failed: {exc}") from None

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

    # --- quality flags ------------------------------------------------------------------------------
    def _add_flags(self, frame: pd.DataFrame) -> None:
        rows = [
            (r.sensor, r.start.to_pydatetime(), r.end.to_pydatetime(), r.kind, r.detail)
            for r in frame.itertuples(index=False)
        ]

        def run() -> None:
            with self._w.transaction(), self._w.cursor() as cur:
                cur.executemany(
                    'INSERT INTO flags (sensor, "start", "end", kind, detail) VALUES (%s, %s, %s, %s, %s) '
                    'ON CONFLICT (sensor, kind, "start") DO UPDATE SET "end" = excluded."end", '
                    "detail = excluded.detail",
                    rows,
                )

        try:
            self._retrying(run)
        except psycopg.Error as exc:
            raise StoreError(f"cannot store flags in {self.display_url}: {exc}") from None

    def _flags(
        self, sensors: list[str] | None, start: pd.Timestamp | None, end: pd.Timestamp | None
    ) -> pd.DataFrame:
        return self._query(
            'SELECT sensor, "start", "end", kind, detail FROM flags '
            "WHERE (%(ids)s::text[] IS NULL OR sensor = ANY(%(ids)s::text[])) "
            'AND (%(t0)s::timestamptz IS NULL OR "end" >= %(t0)s) '
            'AND (%(t1)s::timestamptz IS NULL OR "start" < %(t1)s) ORDER BY sensor, "start", kind',
            {
                "ids": sensors,
                "t0": None if start is None else start.to_pydatetime(),
                "t1": None if end is None else end.to_pydatetime(),
            },
        )

    def counts(self) -> dict[str, int]:
        self.flush()
        tables = ("readings", "reading_history", "quarantine", "sensors", "events", "flags", "rollups")
        sql = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM {t}" for t in tables)
        frame = self._query(f"{sql} UNION ALL SELECT 'blocks', coalesce(sum(n), 0) FROM blocks")
        out = {str(k): int(v) for k, v in frame.itertuples(index=False)}
        out["readings"] += out.pop("blocks")  # readings packed in blocks count as readings
        return out

    def corrections(self, sensor: str | None = None) -> pd.DataFrame:
        self.flush()
        return self._query(
            "SELECT * FROM reading_history WHERE %(s)s::text IS NULL OR sensor = %(s)s "
            "ORDER BY sensor, time, replaced_at",
            {"s": sensor},
        )

    def quarantined(
        self, *, source: str | None = None, limit: int | None = None, offset: int = 0
    ) -> pd.DataFrame:
        self.flush()
        return self._query(
            "SELECT received_at, last_seen, times_seen, source, sensor, payload, reason, detail "
            "FROM quarantine WHERE %(s)s::text IS NULL OR source = %(s)s "
            f"ORDER BY {QUARANTINE_ORDER} LIMIT %(n)s OFFSET %(o)s",
            {"s": source, "n": limit, "o": max(int(offset), 0)},
        )

    def _quarantine_entries(self) -> pd.DataFrame:
        return self._query(
            "SELECT key, received_at, last_seen, times_seen, source, sensor, payload, reason, detail "
            f"FROM quarantine ORDER BY {QUARANTINE_ORDER}"
        )

    def _drop_quarantine(self, keys: list[str]) -> int:
        def run() -> int:
            with self._w.transaction(), self._w.cursor() as cur:
                cur.execute("DELETE FROM quarantine WHERE key = ANY(%s)", [keys])
                return int(cur.rowcount)

        return self._retrying(run)

    # --- sensors ------------------------------------------------------------------------------------
    def _add_sensors(self, frame: pd.DataFrame, replace: bool) -> int:
        cols = ", ".join(SENSOR_COLUMNS)
        marks = ", ".join(["%s"] * len(SENSOR_COLUMNS))
        tail = "ON CONFLICT (id) DO NOTHING"
        if replace:
            sets = ", ".join(f"{c} = excluded.{c}" for c in SENSOR_COLUMNS if c != "id")
            tail = f"ON CONFLICT (id) DO UPDATE SET {sets}"
        rows = [
            tuple(
                None if pd.isna(v) else (v.to_pydatetime() if isinstance(v, pd.Timestamp) else v)
                for v in r
            )
            for r in frame.itertuples(index=False)
        ]
        try:
            with self._w.transaction(), self._w.cursor() as cur:
                before = cur.execute("SELECT count(*) FROM sensors").fetchone()[0]
                cur.executemany(f"INSERT INTO sensors ({cols}) VALUES ({marks}) {tail}", rows)
                after = cur.execute("SELECT count(*) FROM sensors").fetchone()[0]
        except psycopg.Error as exc:
            raise StoreError(f"cannot register sensors in {self.display_url}: {exc}") from None
        return len(rows) if replace else int(after - before)

    def _load_sensors(self) -> SensorRegistry:
        frame = self._query(f"SELECT {', '.join(SENSOR_COLUMNS)} FROM sensors ORDER BY id")
        return registry_from_frame(frame, self.display_url)

    # --- events ---------------------------------------------------------------------------------------
    def _add_event(self, row: dict[str, Any], who: str, note: str | None) -> int:
        values = {k: (v.to_pydatetime() if isinstance(v, pd.Timestamp) else v) for k, v in row.items()}
        with self._w.transaction(), self._w.cursor() as cur:
            cur.execute(
                "INSERT INTO events (status, detected_at, start, size_lps, candidates, dma) VALUES "
                "(%(status)s, %(detected_at)s, %(start)s, %(size_lps)s, %(candidates)s::jsonb, %(dma)s) "
                "RETURNING id",
                values,
            )
            event_id = int(cur.fetchone()[0])
            cur.execute(
                "INSERT INTO event_history VALUES (%s, %s, %s, %s, %s)",
                [event_id, values["detected_at"], who, row["status"], note],
            )
        return event_id

    def _set_event_status(
        self,
        event_id: int,
        status: str | None,
        who: str,
        note: str | None,
        at: pd.Timestamp,
        expected: str | None,
    ) -> None:
        with self._w.transaction(), self._w.cursor() as cur:
            cur.execute("SELECT status FROM events WHERE id = %s FOR UPDATE", [event_id])
            got = cur.fetchone()
            if got is None:
                raise StoreError(f"no event with id {event_id}", field="event_id")
            if expected is not None and got[0] != expected:
                raise _changed_meanwhile(event_id, expected, str(got[0]))
            status = str(got[0]) if status is None else status
            cur.execute("UPDATE events SET status = %s WHERE id = %s", [status, event_id])
            cur.execute(
                "INSERT INTO event_history VALUES (%s, %s, %s, %s, %s)",
                [event_id, at.to_pydatetime(), who, status, note],
            )

    def _events(self, status: str | None) -> pd.DataFrame:
        frame = self._query(
            "SELECT id, status, detected_at, start, size_lps, candidates::text AS candidates, dma "
            "FROM events WHERE %(s)s::text IS NULL OR status = %(s)s ORDER BY detected_at DESC, id DESC",
            {"s": status},
        )
        return frame

    def event_history(self, event_id: int) -> pd.DataFrame:
        return self._query(
            "SELECT * FROM event_history WHERE event_id = %s ORDER BY at, ctid", [int(event_id)]
        )

    # --- records ------------------------------------------------------------------------------------
    def _put_record(self, kind: str, key: str, value: str, at: pd.Timestamp, only_if_new: bool) -> bool:
        action = (
            "NOTHING"
            if only_if_new
            else "UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
        )

        def run() -> bool:
            with self._w.transaction(), self._w.cursor() as cur:
                cur.execute(
                    "INSERT INTO records VALUES (%s, %s, %s::jsonb, %s) "
                    f"ON CONFLICT (kind, key) DO {action} RETURNING 1",
                    [kind, key, value, at.to_pydatetime()],
                )
                return cur.fetchone() is not None

        return self._retrying(run)

    def _records(self, kind: str, key: str | None) -> list[Record]:
        self._check_open()
        sql = "SELECT kind, key, value::text, updated_at FROM records WHERE kind = %s"
        sql += " AND key = %s" if key is not None else ""
        params = [kind] if key is None else [kind, key]

        def run() -> list[Any]:
            with self._r.cursor() as cur:
                cur.execute(sql + " ORDER BY updated_at DESC, key", params)
                return cur.fetchall()

        with self._read_lock:
            rows = self._retrying(run, reader=True)
        return decode_rows(rows)

    def _swap_record(self, kind: str, key: str, old: str, new: str, at: pd.Timestamp) -> bool:
        def run() -> bool:
            with self._w.transaction(), self._w.cursor() as cur:
                cur.execute(
                    "UPDATE records SET value = %s::jsonb, updated_at = %s "
                    "WHERE kind = %s AND key = %s AND value = %s::jsonb RETURNING 1",
                    [new, at.to_pydatetime(), kind, key, old],
                )
                return cur.fetchone() is not None

        return self._retrying(run)

    def _delete_record(self, kind: str, key: str) -> bool:
        def run() -> bool:
            with self._w.transaction(), self._w.cursor() as cur:
                cur.execute("DELETE FROM records WHERE kind = %s AND key = %s RETURNING 1", [kind, key])
                return cur.fetchone() is not None

        return self._retrying(run)
