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

from tirta.telemetry.store.postgres.connection import LOCK_DAYS, LOCK_SPAN
from tirta.telemetry.store.postgres.quality import Quality
from tirta.telemetry.store.postgres.read import Reads
from tirta.telemetry.store.postgres.retention import Retention
from tirta.telemetry.store.postgres.state import State
from tirta.telemetry.store.postgres.write import Writes

__all__ = ["LOCK_DAYS", "LOCK_SPAN", "PostgresStore"]


class PostgresStore(Writes, Reads, Retention, Quality, State):
    """Telemetry in a PostgreSQL database; one writer connection and one reader connection, each
    reconnected (with backoff, for up to ``reconnect_s`` seconds) when the server goes away."""
