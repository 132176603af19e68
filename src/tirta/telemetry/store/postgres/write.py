"""The PostgreSQL store's write path: batches and bulk loads, copied in binary and merged into rows
and blocks in one transaction, replaced values kept in the correction history."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from tirta.errors import StoreError
from tirta.telemetry.schema import IngestResult, Progress, WriteCounts
from tirta.telemetry.store.base import Batch, _quarantine
from tirta.telemetry.store.pgblocks import (
    DAY_US,
    block_rows,
    first_of_each,
    merge,
    occurrences,
    pack,
    sensor_days,
    subset,
)
from tirta.telemetry.store.pgcopy import HEADER, TRAILER, Coded, binary_rows
from tirta.telemetry.store.postgres.bulk import _by_sensor
from tirta.telemetry.store.postgres.connection import PostgresBase
from tirta.telemetry.store.postgres.shared import (
    BLOCK_FETCH,
    _date,
    _day_keys,
    _pg_time,
    _unpack_blocks,
)
from tirta.telemetry.validate import check, checked_drop, memory_connection, raw_table

try:
    import psycopg
    from psycopg.copy import QueuedLibpqWriter
except ImportError:  # pragma: no cover - depends on the installed extras
    psycopg = None  # type: ignore[assignment]

__all__ = ["Writes"]

COPY_CHUNK = 50_000  # rows per COPY chunk; progress is reported between chunks
BINARY_CHUNK = 500_000  # readings per binary COPY chunk (~17 MB)
ANALYZE_ROWS = 200_000  # new rows in one write after which the planner statistics are refreshed

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
STORED_BLOCKS = f"""
SELECT {BLOCK_FETCH}, day - date '2000-01-01' FROM blocks
WHERE sensor = ANY(%(ids)s::text[]) AND day >= %(d0)s AND day <= %(d1)s
"""
DAYS_WITH_ROWS = """
SELECT DISTINCT sensor, time::date - date '2000-01-01' FROM readings
WHERE sensor = ANY(%(ids)s::text[]) AND time >= %(t0)s AND time < %(t1)s
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


class Writes(PostgresBase):
    """Writing readings and quarantine rows: into stored blocks, as new blocks, or as rows."""

    #: batches with at least this many readings store sensor-days that have no rows yet as blocks
    block_rows = 10_000

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
            if self._registry_stale(checked.reasons):  # registered by another process meanwhile
                checked_drop(con)
                sensors = self.sensor_table()
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
