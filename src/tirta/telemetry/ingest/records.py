"""The one ingestion function: raw records and a source name in, counts out.

MQTT, HTTP and file paths call :func:`ingest_records`; it validates, writes readings and quarantine
rows in one commit, and says what was accepted, resent (duplicate) or quarantined, and why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
import pyarrow as pa

from tirta.telemetry.schema import RAW_COLUMNS, IngestResult, Progress
from tirta.telemetry.store.base import Store

__all__ = ["as_frame", "ingest_records"]


def as_frame(records: pd.DataFrame | Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Raw records as a frame with at least sensor, time, value, unit (missing fields become null)."""
    frame = records if isinstance(records, pd.DataFrame) else pd.DataFrame.from_records(list(records))
    missing = [c for c in RAW_COLUMNS if c not in frame.columns]
    if missing:
        frame = frame.assign(**{c: None for c in missing})
    return frame


def ingest_records(
    store: Store,
    records: pd.DataFrame | pa.Table | Iterable[Mapping[str, Any]],
    *,
    source: str,
    now: pd.Timestamp | None = None,
    progress: Progress | None = None,
) -> IngestResult:
    """Validate raw records (sensor, time, value, unit as received) and commit them to ``store``.

    Rejected records go to the quarantine with their payload, ``source`` and reason; a reading already
    stored with the same value counts as duplicate, with another value as a correction (accepted).
    """
    raw = records if isinstance(records, pa.Table) else as_frame(records)
    return store.ingest(raw, source=source, now=now, progress=progress)
