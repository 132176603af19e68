"""Many MQTT payloads of the common shape parsed at once by DuckDB's JSON reader, not reading by reading.

A message qualifies when it is a JSON object ``{"sensor": text, "t": text, "v": number, "unit": text}``
or an array of such objects (a key may be missing or null). When every message of a batch qualifies,
the batch becomes one Arrow table of raw records; otherwise the caller parses it message by message
(:func:`tirta.telemetry.ingest.mqtt.parse_payload`), which gives the same records for these shapes.
Two corners of JSON read differently: an object naming a key twice (here the first counts) and
integers beyond 64 bits (here floating point: the same value, but a rejected one is quoted as such).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tirta.telemetry.validate import memory_connection

__all__ = ["parse_common"]

# JSON types (as json_structure names them) each field may have
_TYPES = {
    "sensor": {"VARCHAR", "NULL"},
    "t": {"VARCHAR", "NULL"},
    "v": {"UBIGINT", "BIGINT", "HUGEINT", "DOUBLE", "NULL"},
    "unit": {"VARCHAR", "NULL"},
}
_SHAPE = '[{"sensor":"VARCHAR","t":"VARCHAR","v":"DOUBLE","unit":"VARCHAR"}]'
# objects become one-element arrays; an element that is not an object (null) shows as a NULL row
_EXTRACT = f"""
SELECT m, r IS NULL AS bad, r.sensor AS sensor, r.t AS time, r.v AS value, r.unit AS unit
FROM (SELECT m, unnest(from_json(CASE WHEN a THEN payload ELSE '[' || payload || ']' END,
                                 '{_SHAPE}')) AS r
      FROM _msgs)
"""


def _common(structure: str) -> bool:
    """Whether a ``json_structure`` is that of an object of the common shape or an array of them."""
    shape = json.loads(structure)
    if isinstance(shape, list):
        if len(shape) != 1:
            return False
        shape = shape[0]
    if not isinstance(shape, dict) or not shape:
        return False
    return all(isinstance(t, str) and t in _TYPES.get(k, ()) for k, t in shape.items())


def parse_common(payloads: Sequence[bytes], max_bytes: int) -> pa.Table | None:
    """Raw records (sensor, time, value, unit) of all ``payloads`` in order, or None when any message
    is not of the common shape (too large, not UTF-8 or JSON, SenML, epoch times, text values…)."""
    if not payloads or any(len(p) > max_bytes for p in payloads):
        return None
    try:
        text = pa.array(payloads, pa.binary()).cast(pa.string())  # checks UTF-8
    except pa.ArrowInvalid:
        return None
    is_array = np.fromiter((p.lstrip()[:1] == b"[" for p in payloads), bool, len(payloads))
    msgs = pa.table({"m": np.arange(len(payloads), dtype=np.int32), "a": is_array, "payload": text})
    con = memory_connection()
    con.register("_msgs", msgs)
    try:
        shapes = con.execute("SELECT DISTINCT json_structure(payload) FROM _msgs").fetchall()
        if not all(_common(s) for (s,) in shapes):
            return None
        out = con.sql(_EXTRACT).to_arrow_table()
    except duckdb.Error:  # not JSON, or JSON DuckDB reads differently (NaN, Infinity)
        return None
    finally:
        con.unregister("_msgs")
    if pc.any(out["bad"]).as_py():
        return None
    value = out["value"]  # NaN (JSON parsers accept it) is a missing value, as in a pandas frame
    out = out.set_column(4, "value", pc.if_else(pc.is_nan(value), pa.scalar(None, pa.float64()), value))
    m = out["m"].to_numpy()
    if len(m) > 1 and bool(np.any(np.diff(m) < 0)):  # keep message order (stable within a message)
        out = out.take(pc.sort_indices(out, [("m", "ascending")]))
    return out.select(["sensor", "time", "value", "unit"])
