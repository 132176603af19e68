"""The PostgreSQL store's connections and schema: tables created once per database, monthly
partitions added as data arrives, lost connections reconnected with backoff, per-window write locks."""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from tirta.errors import StoreError
from tirta.telemetry.store.base import Store
from tirta.telemetry.store.pgblocks import DAY_US
from tirta.telemetry.store.postgres.shared import BLOCK_ROWS
from tirta.telemetry.store.records import POSTGRES_RECORDS

try:
    import psycopg
except ImportError:  # pragma: no cover - depends on the installed extras
    psycopg = None  # type: ignore[assignment]

__all__ = ["LOCK_DAYS", "LOCK_SPAN", "PostgresBase"]

T = TypeVar("T")

_TIMESTAMPTZ = 1184  # PostgreSQL type oid of timestamptz
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
# every reading, rows and blocks alike, for SQL and GIS tools (created once: replacing a view waits
# for the queries that read it)
ALL_READINGS = f"""
CREATE VIEW all_readings AS
SELECT sensor, time, value FROM readings
UNION ALL
{BLOCK_ROWS}
"""


def _redact(url: str) -> str:
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


class PostgresBase(Store):
    """What every part of :class:`~tirta.telemetry.store.postgres.PostgresStore` stands on: the writer
    and reader connections, the schema, retries over lost connections and the write locks."""

    #: how long to keep trying to reconnect after a lost connection before failing the operation, s
    reconnect_s = 60.0
    #: ingesters, ``tirta serve`` and the command line register sensors in one database
    registry_recheck_s: float | None = 5.0

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
        if not self._timescale_available():  # it also creates the extension
            return False
        try:
            with self._w.transaction():
                self._w.execute(
                    "SELECT create_hypertable('readings', 'time', if_not_exists => TRUE, "
                    "migrate_data => TRUE)"
                )
        except psycopg.Error:
            return False
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
