"""The PostgreSQL store's upkeep: rollups of every width, pruning old readings, and compaction of
live rows into blocks."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tirta.errors import StoreError
from tirta.telemetry.schema import utc_time
from tirta.telemetry.store.base import EVERY
from tirta.telemetry.store.pgblocks import BLOCK_READINGS, DAY_US
from tirta.telemetry.store.postgres.connection import LOCK_DAYS, PostgresBase
from tirta.telemetry.store.postgres.shared import BLOCK_ROWS, _epoch_us_of, _pg_time, _range

try:
    import psycopg
except ImportError:  # pragma: no cover - depends on the installed extras
    psycopg = None  # type: ignore[assignment]

__all__ = ["Retention"]


def _all_readings(sensors: bool) -> str:
    """Rows and unpacked blocks as one (sensor, time, value) relation for ``%(t0)s <= time < %(t1)s``
    (blocks picked by ``%(d0)s``..``%(d1)s``), of the sensors ``%(ids)s`` when ``sensors``."""
    rows = "readings r WHERE r.time >= %(t0)s AND r.time < %(t1)s"
    blocks = "b.day >= %(d0)s AND b.day <= %(d1)s AND u.time >= %(t0)s AND u.time < %(t1)s"
    if sensors:
        rows += " AND r.sensor = ANY(%(ids)s::text[])"
        blocks += " AND b.sensor = ANY(%(ids)s::text[])"
    return f"(SELECT r.sensor, r.time, r.value FROM {rows} UNION ALL {BLOCK_ROWS} WHERE {blocks})"


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


class Retention(PostgresBase):
    """The span of stored readings, rollups, retention and compaction."""

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
