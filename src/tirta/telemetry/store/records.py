"""Small JSON records kept in the store beside the readings: state that must last and be shared.

Alert notifications and their delivery status, job history and other server state live here, so two
``tirta serve`` processes on one PostgreSQL see the same state and a restart loses nothing. A record
is ``(kind, key) → JSON object`` with the time it was last written; ``only_if_new`` makes the write
an atomic claim (exactly one of several writers wins it).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import pandas as pd

__all__ = ["DUCKDB_RECORDS", "POSTGRES_RECORDS", "Record", "decode", "decode_rows", "encode"]

DUCKDB_RECORDS: Final = """
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (kind, key)
);
"""
POSTGRES_RECORDS: Final = """
CREATE TABLE IF NOT EXISTS records (
    kind text NOT NULL, key text NOT NULL, value jsonb NOT NULL, updated_at timestamptz NOT NULL,
    PRIMARY KEY (kind, key)
);
"""


@dataclass(frozen=True)
class Record:
    """One record: its kind and key, the JSON value and when it was last written (UTC)."""

    kind: str
    key: str
    value: dict[str, Any]
    updated_at: pd.Timestamp


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities (not JSON; PostgreSQL's jsonb refuses them) as None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def encode(value: Mapping[str, Any]) -> str:
    """JSON text of a record value (keys sorted, so equal values give equal text; NaN as null)."""
    return json.dumps(_finite(value), sort_keys=True, default=str)


def decode(frame: pd.DataFrame) -> list[Record]:
    """Rows (kind, key, value, updated_at) as records, values parsed from JSON."""
    return decode_rows(frame[["kind", "key", "value", "updated_at"]].itertuples(index=False))


def decode_rows(rows: Iterable[Sequence[Any]]) -> list[Record]:
    """Tuples (kind, key, value, updated_at) as records: no DataFrame, so a lookup per request is cheap."""
    out = []
    for kind, key, value, at in rows:
        parsed = value if isinstance(value, dict) else json.loads(value)
        when = pd.Timestamp(at)
        out.append(Record(kind, key, parsed, when.tz_localize("UTC") if when.tzinfo is None else when))
    return out
