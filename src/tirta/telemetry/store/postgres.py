"""The production store: PostgreSQL through psycopg 3, bulk loads by ``COPY`` into a staging table.

Readings are a TimescaleDB hypertable when the extension is available, a plain table with a
(sensor, time) primary key otherwise. Any number of processes may write at once.
"""

from __future__ import annotations

import contextlib
import io
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, TypeVar

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from tirta.errors import StoreError
from tirta.network.sensors import SensorRegistry
from tirta.telemetry.schema import Progress, WriteCounts
from tirta.telemetry.store.base import EVERY, SENSOR_COLUMNS, Batch, Store, registry_from_frame

try:
    import psycopg
except ImportError:  # pragma: no cover - depends on the installed extras
    psycopg = None  # type: ignore[assignment]

__all__ = ["PostgresStore"]

T = TypeVar("T")

_TIMESTAMPTZ = 1184  # PostgreSQL type oid of timestamptz
COPY_CHUNK = 50_000  # rows per COPY chunk; progress is reported between chunks
ANALYZE_ROWS = 200_000  # new rows in one write after which the planner statistics are refreshed
_SCHEMA_LOCK = 0x7469727461  # advisory lock id while creating tables ("tirta")

SCHEMA = """
CREATE TABLE IF NOT EXISTS sensors (
    id text PRIMARY KEY, kind text NOT NULL, unit text NOT NULL, node text, link text,
    valid_min double precision NOT NULL, valid_max double precision NOT NULL, dma text,
    installed timestamptz, cumulative boolean NOT NULL DEFAULT false
);
CREATE TABLE IF NOT EXISTS readings (
    sensor text COLLATE "C" NOT NULL, time timestamptz NOT NULL, value double precision NOT NULL,
    PRIMARY KEY (time, sensor)
);
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
# a reading inside a stored quality flag reads as NULL (NaN) with ``clean``
CLEAN_VALUE = """CASE WHEN EXISTS (SELECT 1 FROM flags f WHERE f.sensor = r.sensor
    AND r.time BETWEEN f."start" AND f."end") THEN NULL ELSE r.value END"""
# staging: times arrive as integer microseconds since the epoch (fast to format, exact), then typed
STAGING = """
CREATE TEMP TABLE IF NOT EXISTS _in_raw (sensor text, time bigint, value double precision)
    ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS _in (sensor text COLLATE "C", time timestamptz,
    value double precision) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS _old (sensor text COLLATE "C", time timestamptz,
    value double precision, old double precision) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS _q_raw (received_at bigint, source text, sensor text, payload text,
    reason text, detail text) ON COMMIT DELETE ROWS;
"""
EPOCH_US = "timestamptz 'epoch' + {col} * interval '1 microsecond'"
TYPED_IN = f"INSERT INTO _in SELECT sensor, {EPOCH_US.format(col='time')}, value FROM _in_raw"
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
# a new time range is a plain insert (~2.5x faster than ON CONFLICT); if another writer raced us to a
# key, the savepoint is rolled back and the batch merged key by key
APPEND = "INSERT INTO readings (sensor, time, value) SELECT sensor, time, value FROM _in"
MERGE_INSERT = """
INSERT INTO readings (sensor, time, value)
SELECT sensor, time, value FROM _in i
WHERE NOT EXISTS (SELECT 1 FROM _old o WHERE o.sensor = i.sensor AND o.time = i.time)
ON CONFLICT (sensor, time) DO NOTHING
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


def _redact(url: str) -> str:
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


class PostgresStore(Store):
    """Telemetry in a PostgreSQL database; one writer connection and one reader connection, each
    reconnected (with backoff, for up to ``reconnect_s`` seconds) when the server goes away."""

    #: how long to keep trying to reconnect after a lost connection before failing the operation, s
    reconnect_s = 60.0

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
        try:
            with self._w.transaction():
                self._w.execute("SELECT pg_advisory_xact_lock(%s)", [_SCHEMA_LOCK])
                self._w.execute(SCHEMA)
                self.timescale = self._hypertable()
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
        total = sum(b.rows for b in batches)
        state = {"done": 0}
        out: list[WriteCounts] = []
        with self._w.transaction(), self._w.cursor() as cur:
            for batch in batches:
                counts = self._merge(cur, batch, state, total, progress)
                if batch.quarantine is not None:
                    self._copy(cur, "_q_raw", batch.quarantine, state, total, progress)
                    cur.execute(QUARANTINE)
                    cur.execute("TRUNCATE _q_raw")
                    counts = replace(counts, quarantined=len(batch.quarantine))
                out.append(counts)
        if sum(c.inserted for c in out) >= ANALYZE_ROWS:
            self._analyze()
        if progress is not None:
            progress(total, total)
        return out

    def _analyze(self) -> None:
        """Refresh the planner's statistics after a bulk load (autovacuum comes much later); without
        them a year-long read picks an index scan and takes several times longer."""
        try:
            with self._w.transaction():
                self._w.execute("ANALYZE readings")
        except psycopg.Error:
            pass  # statistics are an optimisation; the load is committed

    def _merge(
        self, cur: Any, batch: Batch, state: dict[str, int], total: int, progress: Progress | None
    ) -> WriteCounts:
        n = len(batch.readings)
        if n == 0:
            return WriteCounts()
        self._copy(cur, "_in_raw", batch.readings, state, total, progress)
        cur.execute(TYPED_IN)
        if n > COPY_CHUNK:
            cur.execute("ANALYZE _in")
        t0, t1 = cur.execute("SELECT min(time), max(time) FROM _in").fetchone()
        cur.execute(MERGE_OLD, {"t0": t0, "t1": t1})
        stored = cur.rowcount
        corrected = inserted = 0
        if stored == 0 and self._append(cur):
            inserted = n
        else:
            cur.execute(MERGE_HISTORY, {"source": batch.source})
            corrected = cur.rowcount
            if corrected:
                cur.execute(MERGE_UPDATE)
            if stored < n:
                cur.execute(MERGE_INSERT)
                inserted = cur.rowcount
        cur.execute("TRUNCATE _in_raw, _in, _old")
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
        params: dict[str, Any] = {"ids": sensors, "t0": start.to_pydatetime(), "t1": end.to_pydatetime()}
        # sensors asked, with their position in the answer (1-based); date_part is double precision,
        # much cheaper than extract's numeric
        source = (
            "readings r JOIN unnest(%(ids)s::text[]) WITH ORDINALITY AS s(sensor, k) "
            "ON r.sensor = s.sensor WHERE r.time >= %(t0)s AND r.time < %(t1)s"
        )
        us = "(date_part('epoch', {}) * 1000000)::bigint AS t"
        value = CLEAN_VALUE if clean else "r.value"
        if every_s is None:
            sql = f"SELECT s.k - 1, {us.format('r.time')}, {value} FROM {source}"
        else:
            params["width"] = every_s
            bucket = "date_bin(make_interval(secs => %(width)s), r.time, TIMESTAMPTZ '2000-01-01 00:00:00+00')"
            sql = f"SELECT s.k - 1, {us.format(bucket)}, {agg}({value}) FROM {source} GROUP BY 1, 2"
        return self._copy_numbers(sql, params)

    def _copy_numbers(self, sql: str, params: Any) -> pd.DataFrame:
        """(k, t, value) rows through ``COPY … TO STDOUT`` as CSV, parsed by Arrow."""
        statement = f"COPY ({sql}) TO STDOUT (FORMAT csv)"

        def run() -> io.BytesIO:
            out = io.BytesIO()
            with self._r.cursor() as cur, cur.copy(statement, params) as copy:
                for block in copy:
                    out.write(block)
            return out

        with self._read_lock:
            buf = self._retrying(run, reader=True)
        if not buf.getbuffer().nbytes:
            return pd.DataFrame({"k": [], "t": [], "value": []})
        buf.seek(0)
        types = {"k": pa.int32(), "t": pa.int64(), "value": pa.float64()}
        table = pacsv.read_csv(
            buf,
            read_options=pacsv.ReadOptions(column_names=list(types)),
            convert_options=pacsv.ConvertOptions(column_types=types),
        )
        return table.to_pandas()

    # --- retention and rollups -----------------------------------------------------------------------
    def pruned_before(self) -> pd.Timestamp | None:
        frame = self._query("SELECT pruned_before FROM retention WHERE id = 1")
        return None if frame.empty else pd.Timestamp(frame["pruned_before"].iloc[0])

    def _raw_span(self) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
        frame = self._query("SELECT min(time) AS lo, max(time) AS hi FROM readings")
        lo, hi = frame["lo"].iloc[0], frame["hi"].iloc[0]
        if pd.isna(lo):
            return None, None
        return pd.Timestamp(lo), pd.Timestamp(hi)

    def _rollup(self, start: pd.Timestamp, end: pd.Timestamp) -> int:
        params: dict[str, Any] = {"t0": start.to_pydatetime(), "t1": end.to_pydatetime()}
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
                        "max(value), count(*) FROM readings WHERE time >= %(t0)s AND time < %(t1)s "
                        "GROUP BY sensor, b",
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
            with self._w.transaction(), self._w.cursor() as cur:
                cur.execute("DELETE FROM readings WHERE time < %s", [cut.to_pydatetime()])
                deleted = int(cur.rowcount)
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

    def _read_rollup(
        self, sensors: list[str], start: pd.Timestamp, end: pd.Timestamp, width_s: int, column: str
    ) -> pd.DataFrame:
        self._check_open()
        sql = (
            "SELECT s.k - 1, (date_part('epoch', r.bucket) * 1000000)::bigint, "
            f'r."{column}"::double precision FROM rollups r '
            "JOIN unnest(%(ids)s::text[]) WITH ORDINALITY AS s(sensor, k) ON r.sensor = s.sensor "
            "WHERE r.width_s = %(w)s AND r.bucket >= %(t0)s AND r.bucket < %(t1)s"
        )
        params = {
            "ids": sensors,
            "w": width_s,
            "t0": start.to_pydatetime(),
            "t1": end.to_pydatetime(),
        }
        return self._copy_numbers(sql, params)

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
        frame = self._query(sql)
        return {str(k): int(v) for k, v in frame.itertuples(index=False)}

    def corrections(self, sensor: str | None = None) -> pd.DataFrame:
        self.flush()
        return self._query(
            "SELECT * FROM reading_history WHERE %(s)s::text IS NULL OR sensor = %(s)s "
            "ORDER BY sensor, time, replaced_at",
            {"s": sensor},
        )

    def quarantined(self, *, source: str | None = None, limit: int | None = None) -> pd.DataFrame:
        self.flush()
        return self._query(
            "SELECT received_at, last_seen, times_seen, source, sensor, payload, reason, detail "
            "FROM quarantine WHERE %(s)s::text IS NULL OR source = %(s)s "
            "ORDER BY last_seen DESC, received_at DESC LIMIT %(n)s",
            {"s": source, "n": limit},
        )

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
        self, event_id: int, status: str, who: str, note: str | None, at: pd.Timestamp
    ) -> None:
        with self._w.transaction(), self._w.cursor() as cur:
            cur.execute("UPDATE events SET status = %s WHERE id = %s", [status, event_id])
            if cur.rowcount == 0:
                raise StoreError(f"no event with id {event_id}", field="event_id")
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
