"""The embedded store: one DuckDB file, no server; one writing process, batched commits.

Times are kept as naive UTC ``TIMESTAMP``; frames are inserted whole (Arrow/DataFrame scans), never
row by row.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from tirta.errors import StoreError
from tirta.network.sensors import SensorRegistry
from tirta.telemetry.schema import IngestResult, Progress, WriteCounts
from tirta.telemetry.store.base import (
    EVERY,
    Batch,
    Store,
    _changed_meanwhile,
    _quarantine,
    registry_from_frame,
)
from tirta.telemetry.store.records import DUCKDB_RECORDS, Record, decode_rows
from tirta.telemetry.validate import check, checked_drop, raw_table, round_sizes, valid_rows

__all__ = ["DuckDBStore"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS sensors (
    id VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, unit VARCHAR NOT NULL, node VARCHAR, link VARCHAR,
    valid_min DOUBLE NOT NULL, valid_max DOUBLE NOT NULL, dma VARCHAR, installed TIMESTAMP,
    cumulative BOOLEAN NOT NULL DEFAULT false
);
CREATE TABLE IF NOT EXISTS readings (
    sensor VARCHAR NOT NULL, time TIMESTAMP NOT NULL, value DOUBLE NOT NULL
);
CREATE TABLE IF NOT EXISTS reading_history (
    sensor VARCHAR NOT NULL, time TIMESTAMP NOT NULL, value DOUBLE NOT NULL,
    replaced_at TIMESTAMP NOT NULL, replaced_by VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS quarantine (
    key VARCHAR PRIMARY KEY, received_at TIMESTAMP NOT NULL, last_seen TIMESTAMP NOT NULL,
    times_seen BIGINT NOT NULL, source VARCHAR NOT NULL, sensor VARCHAR, payload VARCHAR,
    reason VARCHAR NOT NULL, detail VARCHAR
);
CREATE SEQUENCE IF NOT EXISTS event_ids START 1;
CREATE TABLE IF NOT EXISTS events (
    id BIGINT PRIMARY KEY DEFAULT nextval('event_ids'), status VARCHAR NOT NULL,
    detected_at TIMESTAMP NOT NULL, "start" TIMESTAMP, size_lps DOUBLE, candidates JSON, dma VARCHAR
);
CREATE TABLE IF NOT EXISTS event_history (
    event_id BIGINT NOT NULL, "at" TIMESTAMP NOT NULL, who VARCHAR NOT NULL, status VARCHAR NOT NULL,
    note VARCHAR
);
CREATE TABLE IF NOT EXISTS rollups (
    sensor VARCHAR NOT NULL, width_s INTEGER NOT NULL, bucket TIMESTAMP NOT NULL, mean DOUBLE NOT NULL,
    min DOUBLE NOT NULL, max DOUBLE NOT NULL, count BIGINT NOT NULL,
    PRIMARY KEY (sensor, width_s, bucket)
);
CREATE TABLE IF NOT EXISTS retention (id INTEGER PRIMARY KEY, pruned_before TIMESTAMP NOT NULL);
CREATE TABLE IF NOT EXISTS flags (
    sensor VARCHAR NOT NULL, "start" TIMESTAMP NOT NULL, "end" TIMESTAMP NOT NULL, kind VARCHAR NOT NULL,
    detail VARCHAR, PRIMARY KEY (sensor, kind, "start")
);
"""
# newest first, then a total order (source, payload and reason are the key) for paging
QUARANTINE_ORDER = ", ".join(
    f"{c} DESC NULLS LAST" for c in ("last_seen", "received_at", "source", "sensor", "payload", "reason")
)
# a reading inside a stored quality flag reads as NULL (NaN) with ``clean``
CLEAN_VALUE = """CASE WHEN EXISTS (SELECT 1 FROM flags f WHERE f.sensor = r.sensor
    AND r.time BETWEEN f."start" AND f."end") THEN NULL ELSE r.value END"""

# new readings, resent ones and corrections of staged rows ({src}: sensor, time, value, b = batch
# number), all in the caller's transaction; a key appears at most once in {src}. Readings carry no
# primary key: the one writer inserts only keys it did not find (an anti-join is ~8x faster to load
# than maintaining an ART index over years of readings).
MERGE = [
    """CREATE OR REPLACE TEMP TABLE _m AS
       SELECT i.sensor, i.time, i.value, i.b, r.value AS old
       FROM {src} i JOIN readings r
         ON r.sensor = i.sensor AND r.time = i.time AND r.time BETWEEN $t0 AND $t1""",
    """INSERT INTO reading_history
       SELECT sensor, time, old, $now, list_extract($sources, b + 1) FROM _m WHERE old <> value""",
    """UPDATE readings SET value = m.value FROM _m m
       WHERE readings.sensor = m.sensor AND readings.time = m.time AND m.old <> m.value""",
    """INSERT INTO readings SELECT i.sensor, i.time, i.value FROM {src} i
       ANTI JOIN _m ON _m.sensor = i.sensor AND _m.time = i.time""",
]
FRESH = "INSERT INTO readings SELECT sensor, time, value FROM {src}"
COUNT = "SELECT b, count(*) FILTER (old = value), count(*) FILTER (old <> value) FROM _m GROUP BY b"
QUARANTINE = """
INSERT INTO quarantine
SELECT md5(source || chr(31) || coalesce(payload, '') || chr(31) || reason), min(received_at),
       max(received_at), count(*), source, min(sensor), payload, reason, min(detail)
FROM _q GROUP BY source, payload, reason
ON CONFLICT (key) DO UPDATE SET last_seen = excluded.last_seen,
    times_seen = quarantine.times_seen + excluded.times_seen
"""


def _checked(round_: int | None = None) -> Callable[[str], str]:
    """Valid rows of a check (:func:`tirta.telemetry.validate.valid_rows`) as staged rows of batch 0,
    given a condition on their ``time`` (applied before the sensor ids are joined: a stream's batch
    sets apart the few readings that overlap the last batch without joining them all)."""

    def rows(where: str = "true") -> str:
        # naive UTC by arithmetic on the epoch: a cast from TIMESTAMPTZ goes through ICU's time
        # zones row by row (~0.1 µs a reading, as much as the insert); valid times are finite
        cond = where.format(time="c.time").replace("$cut", "CAST($cut AS TIMESTAMPTZ)")
        return (
            "(SELECT p.sensor, make_timestamp(epoch_us(c.time)) AS time, c.value, 0 AS b "
            f"FROM (SELECT * FROM {valid_rows(round_)} c WHERE {cond}) c "
            "JOIN _pairs p ON p.pair = c.pair)"
        )

    return rows


def _table(name: str) -> Callable[[str], str]:
    """Staged rows of a table or registered frame, given a condition on their ``time``."""

    def rows(where: str = "true") -> str:
        cond = where.format(time="time")
        return f"(SELECT * FROM {name} WHERE {cond})"

    return rows


def _rounds(batches: Sequence[Batch]) -> list[pd.DataFrame]:
    """Readings of all batches tagged with their batch number ``b``, split so no key repeats in a round
    (a key repeats across batches, or within one when a reading was corrected in it)."""
    frames = [b.readings.assign(b=np.int32(i)) for i, b in enumerate(batches) if len(b.readings)]
    if not frames:
        return []
    staged = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if not staged.duplicated(["sensor", "time"]).any():
        return [staged]
    occurrence = staged.groupby(["sensor", "time"], sort=False).cumcount().to_numpy()
    return [staged[occurrence == r] for r in range(int(occurrence.max()) + 1)]


def _naive(series: pd.Series) -> pd.Series:
    return series.dt.tz_convert("UTC").dt.tz_localize(None)


def _merge_sql(
    w: duckdb.DuckDBPyConnection,
    src: Callable[[str], str],
    t0: Any,
    t1: Any,
    total: np.ndarray,
    sources: list[str],
) -> np.ndarray:
    """Run :data:`MERGE` over ``src`` (staged rows given a condition on ``{time}``; ``total`` rows per
    batch); (inserted, duplicate, corrected) per batch.

    Only readings up to the newest stored time of the range can be stored already: later ones (a
    stream's next batch, say) are appended without looking up.
    """
    out = np.zeros((len(sources), 3), dtype=np.int64)
    out[:, 0] = total
    newest = w.execute(
        "SELECT max(time) FROM readings WHERE time BETWEEN $t0 AND $t1", {"t0": t0, "t1": t1}
    ).fetchone()
    if newest is None or newest[0] is None:  # a new time range: a plain append
        w.execute(FRESH.format(src=src("true")))
        return out
    cut = {"cut": newest[0]}
    older, scope = src("{time} <= $cut"), cut
    if newest[0] < t1:  # some readings are later than anything stored: appended; the earlier ones
        # (a stream's batch overlapping the last one by a time step, say: few) are set apart once
        w.execute(FRESH.format(src=src("{time} > $cut")), cut)
        w.execute(f"CREATE OR REPLACE TEMP TABLE _o AS SELECT * FROM {older}", cut)
        older, scope = "_o", {}
    w.execute(MERGE[0].format(src=older), {"t0": t0, "t1": newest[0], **scope})
    rows = w.execute(COUNT).fetchall()
    if not rows:  # nothing stored yet for these keys: a plain append
        w.execute(FRESH.format(src=older), scope)
    else:
        now = pd.Timestamp.now(tz="UTC").tz_localize(None)
        w.execute(MERGE[1], {"now": now, "sources": sources})
        w.execute(MERGE[2])
        w.execute(MERGE[3].format(src=older), scope)
    w.execute("DROP TABLE _m; DROP TABLE IF EXISTS _o")
    for b, dup, fixed in rows:
        out[int(b)] = (total[int(b)] - dup - fixed, dup, fixed)
    return out


class DuckDBStore(Store):
    """Telemetry in one DuckDB file; the process that opens it owns it until :meth:`close`."""

    def __init__(self, path: str | Path, url: str | None = None) -> None:
        self.path = Path(path)
        super().__init__(url or f"duckdb://{self.path}")
        if str(path) != ":memory:" and not self.path.parent.is_dir():
            raise StoreError("folder of the store file does not exist", file=self.path)
        try:
            self._con = duckdb.connect(str(path))
        except duckdb.IOException as exc:
            raise _open_error(exc, self.path) from None
        except duckdb.Error as exc:
            raise StoreError(f"cannot open DuckDB store: {exc}", file=self.path) from None
        self._con.execute("SET TimeZone = 'UTC'")
        self._con.execute(SCHEMA)
        self._con.execute(DUCKDB_RECORDS)
        self._w = self._con.cursor()

    def _close(self) -> None:
        self._w.close()
        self._con.close()

    def set_threads(self, threads: int) -> int | None:
        """DuckDB's threads for this store's database (all its connections); the number before."""
        self._check_open()
        before = self._con.execute("SELECT current_setting('threads')").fetchone()
        self._con.execute(f"SET threads = {max(1, int(threads))}")
        return int(before[0]) if before else None

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        self._check_open()
        return self._con.cursor()

    # --- writing ----------------------------------------------------------------------------------
    def _write_batches(self, batches: Sequence[Batch], progress: Progress | None) -> list[WriteCounts]:
        """All batches in one transaction and as few statements as possible: readings of every batch
        are merged together, in rounds when a key repeats across batches so later ones see earlier."""
        self._check_open()
        total = sum(b.rows for b in batches)
        tally = np.zeros((len(batches), 3), dtype=np.int64)
        w = self._w
        w.execute("BEGIN TRANSACTION")
        try:
            rounds = _rounds(batches)
            for k, staged in enumerate(rounds):
                tally += self._merge(w, staged, [b.source for b in batches])
                if progress is not None:
                    progress(int(total * (k + 1) / (len(rounds) + 1)), total)  # merged, not committed
            quarantine = [b.quarantine for b in batches if b.quarantine is not None]
            if quarantine:
                q = pd.concat(quarantine, ignore_index=True) if len(quarantine) > 1 else quarantine[0]
                self._insert_quarantine(w, q)
            if progress is not None:
                progress(total, total)
            w.execute("COMMIT")
        except BaseException:
            w.execute("ROLLBACK")
            raise
        return [
            WriteCounts(
                int(tally[i, 0]),
                int(tally[i, 1]),
                int(tally[i, 2]),
                0 if b.quarantine is None else len(b.quarantine),
            )
            for i, b in enumerate(batches)
        ]

    def _merge(
        self, w: duckdb.DuckDBPyConnection, staged: pd.DataFrame, sources: list[str]
    ) -> np.ndarray:
        """Merge staged rows (a key at most once); return (inserted, duplicate, corrected) per batch."""
        incoming = staged.assign(time=_naive(staged["time"]))
        w.register("_in", incoming)
        try:
            t0, t1 = incoming["time"].min(), incoming["time"].max()
            total = np.bincount(incoming["b"].to_numpy(), minlength=len(sources))
            return _merge_sql(w, _table("_in"), t0, t1, total, sources)
        finally:
            w.unregister("_in")

    def ingest(
        self,
        raw: pd.DataFrame | pa.Table,
        *,
        source: str,
        now: pd.Timestamp | None = None,
        progress: Progress | None = None,
    ) -> IngestResult:
        """Bulk loads are checked and merged inside the store's own connection, in one transaction:
        the readings go from the Arrow table to the ``readings`` table without leaving DuckDB."""
        table = raw_table(raw)
        if table.num_rows < self.bulk_rows and progress is None:
            return super().ingest(table, source=source, now=now)
        sensors = self.sensor_table()
        self._check_open()
        with self._write_lock:
            w = self._w
            w.execute("BEGIN TRANSACTION")
            try:
                checked = check(w, table, sensors, source=source, now=now)
                total = checked.valid + checked.rejected
                if progress is not None:
                    progress(0, total)
                tally = np.zeros((1, 3), dtype=np.int64)
                if checked.valid:
                    t0, t1 = checked.span
                    if checked.rounds == 1:
                        tally = _merge_sql(w, _checked(), t0, t1, np.array([checked.valid]), [source])
                    else:  # readings corrected within the batch: one round after the other
                        for r, n in round_sizes(w):
                            tally += _merge_sql(w, _checked(r), t0, t1, np.array([n]), [source])
                if progress is not None:
                    progress(checked.valid, total)
                quarantine = _quarantine(checked.quarantine()) if checked.rejected else None
                if quarantine is not None:
                    self._insert_quarantine(w, quarantine)
                w.execute("COMMIT")
            except BaseException:
                w.execute("ROLLBACK")
                raise
            finally:
                checked_drop(w)
        if progress is not None:
            progress(total, total)
        inserted, duplicate, corrected = map(int, tally[0])
        return IngestResult(
            accepted=inserted + corrected,
            duplicate=duplicate + checked.duplicates,
            quarantined=checked.rejected,
            corrected=corrected,
            reasons=dict(checked.reasons),
        )

    @staticmethod
    def _insert_quarantine(w: duckdb.DuckDBPyConnection, q: pd.DataFrame) -> None:
        w.register("_q", q.assign(received_at=_naive(q["received_at"])))
        try:
            w.execute(QUARANTINE)
        finally:
            w.unregister("_q")

    # --- reading ----------------------------------------------------------------------------------
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
        params: dict[str, Any] = {
            "ids": sensors,
            "t0": start.tz_convert("UTC").tz_localize(None),
            "t1": end.tz_convert("UTC").tz_localize(None),
        }
        # sensors asked, with their position in the answer; joined rather than looked up per row
        asked = "(SELECT unnest($ids) AS sensor, CAST(unnest(range(len($ids))) AS INTEGER) AS k)"
        source = f"readings r JOIN {asked} s ON s.sensor = r.sensor WHERE r.time >= $t0 AND r.time < $t1"
        value = CLEAN_VALUE if clean else "r.value"
        if every_s is None:
            sql = f"SELECT s.k, epoch_us(r.time) AS t, {value} AS value FROM {source}"
        else:
            params["width"] = every_s
            bucket = "time_bucket(to_seconds($width), r.time, TIMESTAMP '2000-01-01')"
            sql = f"SELECT s.k, epoch_us({bucket}) AS t, {agg}({value}) AS value FROM {source} GROUP BY ALL"
        return self._numbers(sql, params)

    def _numbers(self, sql: str, params: dict[str, Any]) -> pd.DataFrame:
        """(k, t, value) rows through Arrow (about twice as fast as ``fetchnumpy`` for millions of
        rows); NULL values become NaN."""
        cur = self._cursor()
        try:
            got = cur.sql(sql, params=params).to_arrow_table()
        finally:
            cur.close()
        return pd.DataFrame(
            {
                "k": got["k"].to_numpy(),
                "t": got["t"].to_numpy(),
                "value": got["value"].cast(pa.float64()).to_numpy(zero_copy_only=False),
            }
        )

    # --- retention and rollups -----------------------------------------------------------------------
    def pruned_before(self) -> pd.Timestamp | None:
        cur = self._cursor()
        try:
            row = cur.execute("SELECT pruned_before FROM retention WHERE id = 1").fetchone()
        finally:
            cur.close()
        return None if row is None else pd.Timestamp(row[0], tz="UTC")

    def _raw_span(self) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
        # a cursor of its own: readers (the dashboard's "now") must not use the writer's, which a
        # commit may be using at the same moment ("connection is busy")
        cur = self._cursor()
        try:
            row = cur.execute("SELECT min(time), max(time) FROM readings").fetchone()
        finally:
            cur.close()
        if row is None or row[0] is None:
            return None, None
        return pd.Timestamp(row[0], tz="UTC"), pd.Timestamp(row[1], tz="UTC")

    def _rollup(self, start: pd.Timestamp, end: pd.Timestamp) -> int:
        w, n = self._w, 0
        params: dict[str, Any] = {"t0": start.tz_localize(None), "t1": end.tz_localize(None)}
        w.execute("BEGIN TRANSACTION")
        try:
            for width in EVERY.values():
                params["w"] = width
                w.execute(
                    "DELETE FROM rollups WHERE width_s = $w AND bucket >= $t0 AND bucket < $t1", params
                )
                bucket = "time_bucket(to_seconds($w), time, TIMESTAMP '2000-01-01')"
                row = w.execute(
                    f"INSERT INTO rollups SELECT sensor, $w, {bucket} AS b, avg(value), min(value), "
                    "max(value), count(*) FROM readings WHERE time >= $t0 AND time < $t1 "
                    "GROUP BY sensor, b",
                    params,
                ).fetchone()
                n += int(row[0]) if row else 0
            w.execute("COMMIT")
        except BaseException:
            w.execute("ROLLBACK")
            raise
        return n

    def _prune(self, cut: pd.Timestamp) -> int:
        w = self._w
        w.execute("BEGIN TRANSACTION")
        try:
            row = w.execute("DELETE FROM readings WHERE time < ?", [cut.tz_localize(None)]).fetchone()
            w.execute(
                "INSERT INTO retention VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET "
                "pruned_before = greatest(retention.pruned_before, excluded.pruned_before)",
                [cut.tz_localize(None)],
            )
            w.execute("COMMIT")
        except BaseException:
            w.execute("ROLLBACK")
            raise
        return int(row[0]) if row else 0

    def _read_rollup(
        self, sensors: list[str], start: pd.Timestamp, end: pd.Timestamp, width_s: int, column: str
    ) -> pd.DataFrame:
        asked = "(SELECT unnest($ids) AS sensor, CAST(unnest(range(len($ids))) AS INTEGER) AS k)"
        sql = (
            f'SELECT s.k, epoch_us(r.bucket) AS t, CAST(r."{column}" AS DOUBLE) AS value FROM rollups r '
            f"JOIN {asked} s ON s.sensor = r.sensor "
            "WHERE r.width_s = $w AND r.bucket >= $t0 AND r.bucket < $t1"
        )
        params = {
            "ids": sensors,
            "w": width_s,
            "t0": start.tz_localize(None),
            "t1": end.tz_localize(None),
        }
        return self._numbers(sql, params)

    # --- quality flags ------------------------------------------------------------------------------
    def _add_flags(self, frame: pd.DataFrame) -> None:
        w = self._w
        w.register("_f", frame.assign(start=_naive(frame["start"]), end=_naive(frame["end"])))
        try:
            w.execute("BEGIN TRANSACTION")
            w.execute(
                'INSERT INTO flags SELECT sensor, "start", "end", kind, detail FROM _f '
                'ON CONFLICT (sensor, kind, "start") DO UPDATE SET "end" = excluded."end", '
                "detail = excluded.detail"
            )
            w.execute("COMMIT")
        except BaseException:
            w.execute("ROLLBACK")
            raise
        finally:
            w.unregister("_f")

    def _flags(
        self, sensors: list[str] | None, start: pd.Timestamp | None, end: pd.Timestamp | None
    ) -> pd.DataFrame:
        frame = self._query(
            'SELECT sensor, "start", "end", kind, detail FROM flags '
            "WHERE ($ids IS NULL OR list_contains($ids, sensor)) "
            'AND ($t0 IS NULL OR "end" >= $t0) AND ($t1 IS NULL OR "start" < $t1) '
            'ORDER BY sensor, "start", kind',
            {
                "ids": sensors,
                "t0": None if start is None else start.tz_localize(None),
                "t1": None if end is None else end.tz_localize(None),
            },
        )
        return _utc_columns(frame, ("start", "end"))

    def _query(self, sql: str, params: dict[str, Any] | list[Any] | None = None) -> pd.DataFrame:
        cur = self._cursor()
        try:
            return cur.execute(sql, params).df()
        finally:
            cur.close()

    def counts(self) -> dict[str, int]:
        self.flush()
        tables = ("readings", "reading_history", "quarantine", "sensors", "events", "flags", "rollups")
        sql = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM {t}" for t in tables)
        cur = self._cursor()
        try:
            return {str(k): int(v) for k, v in cur.execute(sql).fetchall()}
        finally:
            cur.close()

    def corrections(self, sensor: str | None = None) -> pd.DataFrame:
        self.flush()
        frame = self._query(
            "SELECT * FROM reading_history WHERE $s IS NULL OR sensor = $s ORDER BY sensor, time, replaced_at",
            {"s": sensor},
        )
        return _utc_columns(frame, ("time", "replaced_at"))

    def quarantined(
        self, *, source: str | None = None, limit: int | None = None, offset: int = 0
    ) -> pd.DataFrame:
        self.flush()
        frame = self._query(
            "SELECT * EXCLUDE (key) FROM quarantine WHERE $s IS NULL OR source = $s "
            f"ORDER BY {QUARANTINE_ORDER} LIMIT $n OFFSET $o",
            {"s": source, "n": limit, "o": max(int(offset), 0)},
        )
        return _utc_columns(frame, ("received_at", "last_seen"))

    def _quarantine_entries(self) -> pd.DataFrame:
        frame = self._query(f"SELECT * FROM quarantine ORDER BY {QUARANTINE_ORDER}")
        return _utc_columns(frame, ("received_at", "last_seen"))

    def _drop_quarantine(self, keys: list[str]) -> int:
        got = self._w.execute(
            "DELETE FROM quarantine WHERE list_contains(?, key) RETURNING 1", [keys]
        ).fetchall()
        return len(got)

    # --- sensors ------------------------------------------------------------------------------------
    def _add_sensors(self, frame: pd.DataFrame, replace: bool) -> int:
        w = self._w
        w.register("_s", frame.assign(installed=_naive(frame["installed"])))
        try:
            w.execute("BEGIN TRANSACTION")
            if replace:
                w.execute("DELETE FROM sensors WHERE id IN (SELECT id FROM _s)")
            row = w.execute(
                "INSERT INTO sensors SELECT * FROM _s WHERE id NOT IN (SELECT id FROM sensors)"
            ).fetchone()
            w.execute("COMMIT")
        except BaseException:
            w.execute("ROLLBACK")
            raise
        finally:
            w.unregister("_s")
        return int(row[0]) if row else 0

    def _load_sensors(self) -> SensorRegistry:
        frame = self._query("SELECT * FROM sensors ORDER BY id")
        return registry_from_frame(frame, self.url)

    # --- events ---------------------------------------------------------------------------------------
    def _add_event(self, row: dict[str, Any], who: str, note: str | None) -> int:
        w = self._w
        values = {k: (v.tz_localize(None) if isinstance(v, pd.Timestamp) else v) for k, v in row.items()}
        w.execute("BEGIN TRANSACTION")
        try:
            got = w.execute(
                'INSERT INTO events (status, detected_at, "start", size_lps, candidates, dma) '
                "VALUES ($status, $detected_at, $start, $size_lps, $candidates, $dma) RETURNING id",
                values,
            ).fetchone()
            assert got is not None
            event_id = int(got[0])
            w.execute(
                "INSERT INTO event_history VALUES (?, ?, ?, ?, ?)",
                [event_id, values["detected_at"], who, row["status"], note],
            )
            w.execute("COMMIT")
        except BaseException:
            w.execute("ROLLBACK")
            raise
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
        w = self._w
        w.execute("BEGIN TRANSACTION")
        try:
            got = w.execute("SELECT status FROM events WHERE id = ?", [event_id]).fetchone()
            if not got:
                raise StoreError(f"no event with id {event_id}", field="event_id")
            if expected is not None and got[0] != expected:
                raise _changed_meanwhile(event_id, expected, str(got[0]))
            status = str(got[0]) if status is None else status
            w.execute("UPDATE events SET status = ? WHERE id = ?", [status, event_id])
            w.execute(
                "INSERT INTO event_history VALUES (?, ?, ?, ?, ?)",
                [event_id, at.tz_localize(None), who, status, note],
            )
            w.execute("COMMIT")
        except BaseException:
            w.execute("ROLLBACK")
            raise

    def _events(self, status: str | None) -> pd.DataFrame:
        frame = self._query(
            "SELECT * FROM events WHERE $s IS NULL OR status = $s ORDER BY detected_at DESC, id DESC",
            {"s": status},
        )
        return _utc_columns(frame, ("detected_at", "start"))

    def event_history(self, event_id: int) -> pd.DataFrame:
        frame = self._query(
            'SELECT * FROM event_history WHERE event_id = ? ORDER BY "at", rowid', [int(event_id)]
        )
        return _utc_columns(frame, ("at",))

    # --- records ------------------------------------------------------------------------------------
    def _put_record(self, kind: str, key: str, value: str, at: pd.Timestamp, only_if_new: bool) -> bool:
        action = (
            "NOTHING"
            if only_if_new
            else "UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
        )
        got = self._w.execute(
            f"INSERT INTO records VALUES (?, ?, ?, ?) ON CONFLICT (kind, key) DO {action} RETURNING 1",
            [kind, key, value, at.tz_localize(None)],
        ).fetchall()
        return bool(got)

    def _records(self, kind: str, key: str | None) -> list[Record]:
        sql = "SELECT kind, key, value, updated_at FROM records WHERE kind = ?"
        params = [kind] if key is None else [kind, key]
        cur = self._cursor()
        try:
            rows = cur.execute(
                sql + (" AND key = ?" if key is not None else "") + " ORDER BY updated_at DESC, key",
                params,
            ).fetchall()
        finally:
            cur.close()
        return decode_rows(rows)

    def _swap_record(self, kind: str, key: str, old: str, new: str, at: pd.Timestamp) -> bool:
        got = self._w.execute(
            "UPDATE records SET value = ?, updated_at = ? WHERE kind = ? AND key = ? AND value = ? "
            "RETURNING 1",
            [new, at.tz_localize(None), kind, key, old],
        ).fetchall()
        return bool(got)

    def _delete_record(self, kind: str, key: str) -> bool:
        got = self._w.execute(
            "DELETE FROM records WHERE kind = ? AND key = ? RETURNING 1", [kind, key]
        ).fetchall()
        return bool(got)


def _utc_columns(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    for col in columns:
        frame[col] = pd.to_datetime(frame[col]).dt.tz_localize("UTC")
    return frame


def _open_error(exc: Exception, path: Path) -> StoreError:
    text = str(exc)
    if "lock" in text.lower():
        pid = re.search(r"PID (\d+)", text)
        owner = f" (PID {pid.group(1)})" if pid else ""
        return StoreError(
            f"store file is locked by another process{owner}; a running `tirta serve` owns it. Stop "
            "that process, or send data through its API, or give another --store",
            file=path,
        )
    return StoreError(f"cannot open DuckDB store: {text}", file=path)
