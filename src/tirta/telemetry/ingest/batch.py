"""Many MQTT payloads of the common shape parsed at once, not reading by reading.

A message qualifies when it is a JSON object ``{"sensor": text, "t": text, "v": number, "unit": text}``
or an array of such objects (a key may be missing or null). When every message of a batch qualifies,
the batch becomes one Arrow table of raw records; otherwise the caller parses it message by message
(:func:`tirta.telemetry.ingest.mqtt.parse_payload`), which gives the same records for these shapes.

Two readers, the first that applies wins:

1. The compiled scanner (:mod:`tirta.telemetry.ingest.scan`): messages in plain form (strings without
   escapes, each key once) are proven of the shape and read in one pass, as Python's ``json`` reads
   them (~0.1 CPU-s per million readings).
2. DuckDB's JSON reader for the rest (escapes, or Numba missing), then the shape test, apart
   (:func:`read_common`, :meth:`Read.verify`): a regular expression (RE2, linear time) that only plain
   messages match, and DuckDB's exact ``json_structure`` test for the others. The MQTT ingester reads
   batches in one thread and tests each in whichever thread is free first (per million readings:
   reading ~0.2 CPU-s, the test ~0.08). Two corners of JSON read differently here: an object naming a
   key twice (the first counts) and integers beyond 64 bits (floating point: the same value, but a
   rejected one is quoted as such).

Parsing runs on one thread: the MQTT ingester parses while it commits, and on a small machine a second
parse thread only competes with the commit.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tirta.telemetry.ingest.scan import available as scan_available
from tirta.telemetry.ingest.scan import scan_common

__all__ = ["Read", "parse_common", "read_common", "warm_up"]

# Messages of the common shape in plain form: strings without escapes, JSON numbers, any key order,
# JSON whitespace. Only a subset of the common shape matches (no false positives); the rest gets
# DuckDB's exact json_structure test.
_WS = r"[ \t\n\r]*"
_STR = r'(?:"[^"\\\x00-\x1f]*"|null)'
_NUM = r"(?:-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|null)"
_PAIR = f'(?:"(?:sensor|t|unit)"{_WS}:{_WS}{_STR}|"v"{_WS}:{_WS}{_NUM})'
_OBJ = rf"\{{{_WS}{_PAIR}(?:{_WS},{_WS}{_PAIR})*{_WS}\}}"
_PLAIN = rf"^{_WS}(?:{_OBJ}|\[{_WS}{_OBJ}(?:{_WS},{_WS}{_OBJ})*{_WS}\]){_WS}$"

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
FROM (SELECT m, unnest(from_json({{payload}}, '{_SHAPE}')) AS r FROM _msgs)
"""
# the payload of each message as an array: batches of arrays only (or of objects only) skip the
# per-message CASE, which copies every payload (~0.04 CPU-s per million readings)
_AS_ARRAY = {
    "mixed": "CASE WHEN a THEN payload ELSE '[' || payload || ']' END",
    "arrays": "payload",
    "objects": "'[' || payload || ']'",
}


_local = threading.local()


def _connection() -> duckdb.DuckDBPyConnection:
    """This thread's in-memory DuckDB connection for parsing (one DuckDB thread), opened once."""
    con: duckdb.DuckDBPyConnection | None = getattr(_local, "con", None)
    if con is None:
        con = _local.con = duckdb.connect(":memory:", config={"threads": 1})
    return con


def warm_up() -> None:
    """Open this thread's connection and parse a tiny batch, so that the first real batch does not pay
    for setting DuckDB up (tens of milliseconds). Once per thread."""
    if getattr(_local, "warm", False):
        return
    scan_available()  # compiles the scanner (cached on disk after the first time)
    parse_common([b'{"sensor":"s","t":"2000-01-01T00:00:00Z","v":0,"unit":"m"}', b'{"x":1}'], 100)
    parse_common([b'{"sensor":"s","t":"2000-01-01T00:00:00Z","v":0,"unit":"m"}'], 100)
    _local.warm = True


def _plain(text: pa.Array) -> pa.BooleanArray:
    """Per message, whether it is of the common shape in plain form (true means common; false, maybe)."""
    return pc.match_substring_regex(text, _PLAIN)


def _common(structure: str) -> bool:
    """Whether a ``json_structure`` is that of an object of the common shape or an array of them."""
    try:
        shape = json.loads(structure)
    except (ValueError, RecursionError):  # nested too deep for Python: not the common shape anyway
        return False
    if isinstance(shape, list):
        if len(shape) != 1:
            return False
        shape = shape[0]
    if not isinstance(shape, dict) or not shape:
        return False
    return all(isinstance(t, str) and t in _TYPES.get(k, ()) for k, t in shape.items())


class Read:
    """A batch read as if every message were of the common shape: the records, and the messages'
    text for :meth:`verify`. Verifying may run in any thread (the one that commits, or the reading
    one when it has nothing else to do); it runs once, and a second caller waits for its result."""

    def __init__(self, records: pa.Table, text: pa.Array, verified: bool | None = None) -> None:
        self.records, self.text = records, text
        self._lock = threading.Lock()
        self._verified = verified

    @property
    def verified(self) -> bool | None:
        """The result of :meth:`verify` if it ran, else None."""
        return self._verified

    def verify(self) -> bool:
        """Whether every message is of the common shape, so that ``records`` are what reading the
        messages one by one gives: the plain-form test, then DuckDB's exact test for the others."""
        with self._lock:
            if self._verified is None:
                self._verified = _verify(self.text)
            return self._verified

    @staticmethod
    def join(reads: Sequence[Read]) -> pa.Table | None:
        """The records of batches read one after the other, as one table (chunked: no copy), or
        None when a batch is not of the common shape (each is verified, once)."""
        if not all(read.verify() for read in reads):
            return None
        if len(reads) == 1:
            return reads[0].records
        # a part without parsed times (another form, or read by DuckDB) leaves nulls: the rules parse
        return pa.concat_tables((r.records for r in reads), promote_options="default")


def _verify(text: pa.Array) -> bool:
    """Whether every message of ``text`` is of the common shape (see :meth:`Read.verify`)."""
    plain = _plain(text)
    if pc.all(plain).as_py():
        return True
    con = _connection()
    con.register("_odd", pa.table({"payload": text.filter(pc.invert(plain))}))
    try:
        shapes = con.execute("SELECT DISTINCT json_structure(payload) FROM _odd").fetchall()
    except duckdb.Error:
        return False
    finally:
        con.unregister("_odd")
    return all(_common(s) for (s,) in shapes)


def read_common(payloads: Sequence[bytes], max_bytes: int) -> Read | None:
    """Records (sensor, time, value, unit) of all ``payloads`` in order, read as if every message were
    of the common shape; None when they cannot be (too large, not UTF-8 or JSON, not objects…).
    Only :meth:`Read.verify` says whether they are (SenML, epoch times and text values read too);
    a batch the scanner read is verified already."""
    if not payloads or any(len(p) > max_bytes for p in payloads):
        return None
    try:
        text = pa.array(payloads, pa.binary()).cast(pa.string())  # checks UTF-8
    except pa.ArrowInvalid:
        return None
    scanned = scan_common(text)  # the usual batch: shape and records in one compiled pass
    if scanned is not None:
        return Read(scanned, text, verified=True)
    is_array = np.fromiter((p.lstrip()[:1] == b"[" for p in payloads), bool, len(payloads))
    msgs = pa.table({"m": np.arange(len(payloads), dtype=np.int32), "a": is_array, "payload": text})
    con = _connection()
    con.register("_msgs", msgs)
    try:
        forms = "arrays" if is_array.all() else "objects" if not is_array.any() else "mixed"
        out = con.sql(_EXTRACT.replace("{payload}", _AS_ARRAY[forms])).to_arrow_table()
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
    return Read(out.select(["sensor", "time", "value", "unit"]), text)


def parse_common(payloads: Sequence[bytes], max_bytes: int) -> pa.Table | None:
    """Raw records (sensor, time, value, unit) of all ``payloads`` in order, or None when any message
    is not of the common shape (too large, not UTF-8 or JSON, SenML, epoch times, text values…)."""
    read = read_common(payloads, max_bytes)
    return read.records if read is not None and read.verify() else None
