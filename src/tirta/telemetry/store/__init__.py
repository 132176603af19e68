"""Telemetry stores behind one interface: embedded DuckDB (default) or PostgreSQL.

:func:`open_store` picks the implementation from a URL (``duckdb:///path/file.duckdb``,
``postgresql://user@host:port/db``).
"""

from __future__ import annotations

from tirta.config import parse_store_url
from tirta.telemetry.store.base import AGGREGATES, EVENT_STATUSES, EVERY, Batch, Store, parse_every

__all__ = ["AGGREGATES", "EVENT_STATUSES", "EVERY", "Batch", "Store", "open_store", "parse_every"]


def open_store(url: str) -> Store:
    """Open (creating tables when needed) the store a URL names; close it when done."""
    parsed = parse_store_url(url)
    if parsed.backend == "postgres":
        from tirta.telemetry.store.postgres import PostgresStore

        return PostgresStore(parsed.target)
    from tirta.telemetry.store.duckdb import DuckDBStore

    return DuckDBStore(parsed.target, url=url)
