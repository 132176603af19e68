"""The status page's figures: jobs, ingestion rate and lag, the store's size and the MQTT connection."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from tirta.api.services import jsonable
from tirta.telemetry.store.base import Store
from tirta.web.live import LiveHub

__all__ = ["status_data", "store_size"]


def store_size(store: Store) -> dict[str, Any]:
    """Rows per table, the store's URL and, for a DuckDB file, its size on disk (bytes, with the WAL)."""
    inner = getattr(store, "store", store)  # the serve process's serialising wrapper
    path = getattr(inner, "path", None)
    size = None
    if isinstance(path, Path) and path.is_file():
        wal = path.with_name(path.name + ".wal")
        size = path.stat().st_size + (wal.stat().st_size if wal.is_file() else 0)
    return {"url": inner.display_url, "counts": store.counts(), "file_bytes": size}


def status_data(hub: LiveHub, store: Store, runtime: Any = None) -> dict[str, Any]:
    """Everything the status page shows, JSON-ready: each job's last run, duration and error; readings
    per minute and the lag of the latest commit and reading; store size; MQTT (None without it)."""
    if hub.current is None:
        hub.tick()
    cur = hub.current
    latest = None if cur is None else cur.latest
    now = pd.Timestamp.now(tz="UTC")
    scheduler = getattr(runtime, "scheduler", None)
    mqtt = getattr(runtime, "mqtt", None)
    out: dict[str, Any] = jsonable(
        {
            "at": now,
            "runtime": runtime is not None,
            "jobs": scheduler.status() if scheduler is not None else {},
            "ingestion": {
                **hub.ingestion(),
                "latest": latest,
                "data_lag_s": None if latest is None else round((now - latest).total_seconds(), 1),
                "kinds": hub.kinds,
                "readings": None if cur is None else cur.readings,
            },
            "store": store_size(store),
            "mqtt": mqtt.status() if mqtt is not None else None,
            "live_error": hub.last_error,
        }
    )
    return out
