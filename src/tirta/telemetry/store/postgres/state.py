"""The PostgreSQL store's state beside readings: the sensor registry, leak events with their
history, and records (users, sessions, jobs) kept as JSON by kind and key."""

from __future__ import annotations

from typing import Any

import pandas as pd

from tirta.errors import StoreError
from tirta.network.sensors import SensorRegistry
from tirta.telemetry.store.base import SENSOR_COLUMNS, _changed_meanwhile, registry_from_frame
from tirta.telemetry.store.postgres.connection import PostgresBase
from tirta.telemetry.store.records import Record, decode_rows

try:
    import psycopg
except ImportError:  # pragma: no cover - depends on the installed extras
    psycopg = None  # type: ignore[assignment]

__all__ = ["State"]


class State(PostgresBase):
    """Sensors, events and records."""

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
