"""Times and values of raw records as the rules' SQL reads them: ISO-8601 text, naive times (UTC) or
Unix seconds; text times parsed once per run of equal values."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["RUN_MIN", "_time_sql", "_times_by_run", "_value_sql"]

RUN_MIN = 8  # readings per run of one time text, on average, for parsing times once per run
_EPOCH_LIMIT_S = 253_402_300_800  # 10000-01-01: larger numbers are not Unix seconds


def _time_sql(kind: pa.DataType) -> str:
    """UTC time of column ``time``, NULL where unparsable; naive times are UTC, numbers Unix seconds."""
    if pa.types.is_timestamp(kind):
        return "CAST(r.time AS TIMESTAMPTZ)"
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        t = "CAST(r.time AS DOUBLE)"
        return f"CASE WHEN isfinite({t}) AND abs({t}) < {_EPOCH_LIMIT_S} THEN to_timestamp({t}) END"
    # text: an ISO-8601 time, else a plain number of Unix seconds (as the API's JSON numbers)
    seconds = "TRY_CAST(r.time AS DOUBLE)"
    return (
        f"coalesce(TRY_CAST(r.time AS TIMESTAMPTZ), CASE WHEN regexp_full_match(trim(r.time), "
        f"'[+-]?[0-9]+(\\.[0-9]*)?') AND abs({seconds}) < {_EPOCH_LIMIT_S} "
        f"THEN to_timestamp({seconds}) END)"
    )


def _value_sql(kind: pa.DataType) -> str:
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        return "CAST(r.value AS DOUBLE)"
    return "TRY_CAST(r.value AS DOUBLE)"


def _times_by_run(
    con: duckdb.DuckDBPyConnection, column: pa.ChunkedArray, time_sql: str
) -> pa.ChunkedArray | None:
    """Text times parsed once per run of equal values, by the same SQL as the rules (``time_sql`` over
    ``r.time``), as a UTC timestamp column chunked like ``column`` (NULL where unparsable). A
    time-major file repeats each time once per sensor: 12.6 M times are 105 k runs. None when the
    times are not text or runs are short (the first chunk tells)."""
    if not pa.types.is_string(column.type) or not len(column):
        return None
    starts, texts, judged = [], [], False
    for chunk in column.chunks:
        n = len(chunk)
        if n == 0:
            starts.append(np.zeros(0, np.int64))
            continue
        change = pc.fill_null(pc.not_equal(chunk.slice(1), chunk.slice(0, n - 1)), True)
        first = np.concatenate([[0], np.flatnonzero(change.to_numpy(zero_copy_only=False)) + 1])
        if not judged and len(first) * RUN_MIN > n:
            return None
        judged = True
        starts.append(first)
        texts.append(chunk.take(pa.array(first)))
    con.register("_runs", pa.table({"time": pa.chunked_array(texts, pa.string())}))
    try:
        us = con.sql(f"SELECT epoch_us({time_sql}) AS t FROM _runs r").to_arrow_table()["t"]
    finally:
        con.unregister("_runs")
    us = us.combine_chunks() if isinstance(us, pa.ChunkedArray) else us
    values = us.fill_null(0).to_numpy(zero_copy_only=False)
    valid = us.is_valid().to_numpy(zero_copy_only=False)
    out, at = [], 0
    for chunk, first in zip(column.chunks, starts, strict=True):
        lengths = np.diff(np.append(first, len(chunk)))
        k = slice(at, at + len(first))
        out.append(
            pa.array(
                np.repeat(values[k], lengths),
                mask=np.repeat(~valid[k], lengths),
                type=pa.timestamp("us", tz="UTC"),
            )
        )
        at += len(first)
    return pa.chunked_array(out, pa.timestamp("us", tz="UTC"))
