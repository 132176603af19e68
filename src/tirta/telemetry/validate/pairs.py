"""Each distinct (sensor, unit) of a batch as received, with its registry row and factor to SI: the
rules look a row's attributes up by its pair number instead of joining per reading."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tirta.errors import UnitError
from tirta.telemetry.validate.arrow import _chunked_like
from tirta.units import parse_unit

__all__ = ["PERIOD_MAX", "_Pairs", "_codes", "_lookup_pairs", "_pair_lists", "_pairs"]

PERIOD_MAX = 100_000  # sensors per time step looked for in a time-major file


def _codes(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, list[str]]:
    """Dictionary codes (int32) of a column and its distinct values as text (null as '')."""
    if len(column) and column.null_count == 0:
        first = column[0]
        if pc.all(pc.equal(column, first)).as_py():  # one value (a file's unit, say): no hashing
            return np.zeros(len(column), dtype=np.int32), [str(first.as_py())]
        periodic = _periodic_codes(column)
        if periodic is not None:
            return periodic
    encoded = pc.dictionary_encode(column, null_encoding="encode")
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks() if encoded.num_chunks else pa.array([], encoded.type)
    values = ["" if v is None else str(v) for v in encoded.dictionary.to_pylist()]
    return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32, copy=False), values


def _periodic_codes(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, list[str]] | None:
    """Codes of a column (no NULLs) that repeats one run of distinct values, as a time-major file's
    sensors do (each time step lists the same sensors in the same order): told by comparing the
    column with itself shifted by one run, several times cheaper than hashing every value. None
    when it does not repeat so."""
    n = len(column)
    head = column.slice(0, min(n, PERIOD_MAX + 1))
    again = np.flatnonzero(pc.equal(head.slice(1), head[0]).to_numpy(zero_copy_only=False))
    if not len(again):
        return None
    width = int(again[0]) + 1
    run = head.slice(0, width)
    if len(pc.unique(run)) != width or n < 2 * width:
        return None
    if not pc.all(pc.equal(column.slice(width), column.slice(0, n - width))).as_py():
        return None
    codes = np.tile(np.arange(width, dtype=np.int32), -(-n // width))[:n]
    return codes, [str(v) for v in run.to_pylist()]


def _pairs(raw: pa.Table, table: pd.DataFrame) -> tuple[pa.Table, _Pairs]:
    """Each distinct (sensor, unit) as received, with the sensor's registry row and the factor to SI.

    Returns ``raw`` with the pair number ``_key`` of each row (0, 1, ... in the order of the pairs)
    and the pairs. The pairs of a batch are looked up in the registry once per registry version: a
    stream's batches name the same sensors and units each time.
    """
    s_codes, s_values = _codes(raw["sensor"])
    u_codes, u_values = _codes(raw["unit"])
    n_units = max(len(u_values), 1)
    if n_units == 1:  # every distinct sensor value occurs: the codes are the pair numbers
        key, present = s_codes, np.arange(len(s_values), dtype=np.int64)
    else:
        combined = s_codes.astype(np.int64) * n_units + u_codes
        if len(s_values) * n_units <= 4_000_000:
            seen = np.bincount(combined, minlength=len(s_values) * n_units)
            present = np.flatnonzero(seen)
            dense = np.zeros(len(seen), dtype=np.int32)
            dense[present] = np.arange(len(present), dtype=np.int32)
            key = dense[combined]
        else:
            present, inverse = np.unique(combined, return_inverse=True)
            key = inverse.astype(np.int32)
    raw = raw.append_column("_key", _chunked_like(raw, key))
    sensor_raw = np.asarray(s_values, dtype=object)[present // n_units]
    unit_raw = np.asarray(u_values, dtype=object)[present % n_units]
    cache_key = (id(table), tuple(sensor_raw), tuple(unit_raw))
    with _PAIRS_LOCK:
        hit = _PAIRS_CACHE.get(cache_key)
    if hit is not None and hit[0] is table:
        return raw, hit[1]
    pairs = _lookup_pairs(sensor_raw, unit_raw, table)
    with _PAIRS_LOCK:
        if len(_PAIRS_CACHE) >= _PAIRS_CACHED:
            _PAIRS_CACHE.pop(next(iter(_PAIRS_CACHE)))
        _PAIRS_CACHE[cache_key] = (table, pairs)  # holds the table: its id is not reused meanwhile
    return raw, pairs


@dataclass(frozen=True)
class _Pairs:
    """The distinct (sensor, unit) pairs of a batch: a frame (see :func:`_lookup_pairs`), the same as
    Arrow (for the ``_pairs`` temp table) and its attributes as query parameters (:func:`_pair_lists`)."""

    frame: pd.DataFrame
    arrow: pa.Table
    lists: dict[str, list[Any]]


_PAIRS_CACHED = 8  # registry versions × pair sets kept; a stream needs one or two
_PAIRS_CACHE: dict[tuple[int, tuple[Any, ...], tuple[Any, ...]], tuple[pd.DataFrame, _Pairs]] = {}
_PAIRS_LOCK = threading.Lock()


def _lookup_pairs(sensor_raw: np.ndarray, unit_raw: np.ndarray, table: pd.DataFrame) -> _Pairs:
    """Registry row and factor to SI of each (sensor, unit) pair as received (blanks stripped)."""
    ids = pd.Series(sensor_raw, dtype=object).str.strip()
    units = pd.Series(unit_raw, dtype=object).str.strip()
    info = table.reindex(ids.to_numpy())
    codes = table.index.get_indexer(ids.to_numpy())
    quantity = info["quantity"].to_numpy(object)
    factors: dict[tuple[str, str], float] = {}
    for key_pair in set(zip(units, quantity, strict=True)):
        unit, q = key_pair
        try:
            factors[key_pair] = parse_unit(unit, q).factor if unit and isinstance(q, str) else np.nan
        except UnitError:
            factors[key_pair] = np.nan
    pairs = pd.DataFrame(
        {
            "pair": np.arange(len(sensor_raw), dtype=np.int32),
            "sensor": ids.astype(object),
            "k": codes.astype(np.int32),
            "known": codes >= 0,
            "unit_missing": (units == "").to_numpy(bool),
            "quantity": quantity,
            "factor": np.array([factors[kp] for kp in zip(units, quantity, strict=True)], dtype=float),
            "valid_min": info["valid_min"].to_numpy(float),
            "valid_max": info["valid_max"].to_numpy(float),
            "installed": pd.DatetimeIndex(pd.to_datetime(info["installed"], utc=True)),
        }
    )
    arrow = pa.Table.from_pandas(pairs, preserve_index=False)
    return _Pairs(pairs, arrow, _pair_lists(pairs))


def _pair_lists(pairs: pd.DataFrame) -> dict[str, list[Any]]:
    """The pairs' attributes as lists (query parameters; NULL for a missing number or time). ``fault``
    is 1 for an unknown sensor, 2 for a missing unit, else 0; ``installed`` is left out when no
    sensor has an installation time."""

    def numbers(col: str) -> list[float | None]:
        return [None if np.isnan(x) else float(x) for x in pairs[col].to_numpy(float)]

    known = pairs["known"].to_numpy(bool)
    unit_missing = pairs["unit_missing"].to_numpy(bool)
    installed = pd.DatetimeIndex(pairs["installed"])
    lists: dict[str, list[Any]] = {
        "k": pairs["k"].astype(int).tolist(),
        "fault": np.where(~known, 1, np.where(unit_missing, 2, 0)).tolist(),
        "factor": numbers("factor"),
        "valid_min": numbers("valid_min"),
        "valid_max": numbers("valid_max"),
    }
    if installed.notna().any():
        lists["installed"] = [None if pd.isna(t) else t.to_pydatetime() for t in installed]
    return lists
