"""The PostgreSQL store's quality records: flags, quarantined input, the history of corrected
readings, and the counts of every table."""

from __future__ import annotations

import pandas as pd

from tirta.errors import StoreError
from tirta.telemetry.store.postgres.connection import PostgresBase

try:
    import psycopg
except ImportError:  # pragma: no cover - depends on the installed extras
    psycopg = None  # type: ignore[assignment]

__all__ = ["Quality"]

# newest first, then a total order (source, payload and reason are the key; text compared by code
# point, as Python does) for paging
QUARANTINE_ORDER = ", ".join(
    [f"{c} DESC NULLS LAST" for c in ("last_seen", "received_at")]
    + [f'{c} COLLATE "C" DESC NULLS LAST' for c in ("source", "sensor", "payload", "reason")]
)


class Quality(PostgresBase):
    """Quality flags, quarantine entries, corrections and counts."""

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
