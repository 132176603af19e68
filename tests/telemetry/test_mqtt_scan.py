"""The compiled scanner reads exactly the messages of the plain common shape, and reads them as Python's
``json`` does: every other message makes it decline the batch (DuckDB's reader then takes it)."""

from __future__ import annotations

import json
import math
import struct
import sys

import duckdb
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tirta.network.sensors import SensorRegistry, make_sensor
from tirta.telemetry.ingest import batch, scan
from tirta.telemetry.ingest.scan import PARSED_TIME, scan_common
from tirta.telemetry.validate import validate

PARSED = pa.field(PARSED_TIME, pa.timestamp("us", tz="UTC"))
NOW = pd.Timestamp("2024-06-01", tz="UTC")


def test_the_scanner_compiles_here() -> None:
    """Numba is a dependency: a scanner that fails to compile would silently cost a third of the
    ingester's speed, so it fails here instead."""
    assert scan.available()


def _text(payloads: list[bytes]) -> pa.Array:
    return pa.array(payloads, pa.binary()).cast(pa.string())


def _bits(x: float | None) -> bytes | None:
    return None if x is None else struct.pack("<d", x)


def _expected(payloads: list[bytes]) -> list[dict]:
    """Records as Python's json reads them (the per-message parser's reading of the common shape)."""
    out = []
    for p in payloads:
        item = json.loads(p)
        for obj in item if isinstance(item, list) else [item]:
            v = obj.get("v")
            out.append(
                {
                    "sensor": obj.get("sensor"),
                    "time": obj.get("t"),
                    "value": None if v is None else float(v),
                    "unit": obj.get("unit"),
                }
            )
    return out


def _same(table: pa.Table, expected: list[dict]) -> None:
    got = table.select(["sensor", "time", "value", "unit"]).to_pylist()
    assert [{**r, "value": _bits(r["value"])} for r in got] == [
        {**r, "value": _bits(r["value"])} for r in expected
    ]


def test_plain_messages_are_read_in_one_pass() -> None:
    payloads = [
        b'{"sensor":"n1","t":"2024-03-01T00:00:00Z","v":30.5,"unit":"m"}',
        b' [ { "unit" : "m" , "v" : -2e3 , "t" : null , "sensor" : "n1" } ,\n{"v":0}] \r\n',
        '[{"sensor":"n\u00e91","t":"x","v":-0,"unit":"m"},{"v":-0.0},{"v":1E+2}]'.encode(),
        b'{"v":12345678901234567890123,"t":"a},{b"}',
        b'[{"v":0.1},{"v":1e-400},{"v":1e400},{"v":2.2250738585072011e-308},{"v":null}]',
    ]
    table = scan_common(_text(payloads))
    assert table is not None and table.column_names == ["sensor", "time", "value", "unit"]
    _same(table, _expected(payloads))  # times of other forms ("x", null): no parsed times column
    read = batch.read_common(payloads[:1], 1_000_000)
    assert read is not None and read.records.schema.equals(table.schema.append(PARSED))


DECLINED = {
    "an escape": b'{"sensor":"n\\u00e91","v":1}',
    "a key twice": b'{"v":1,"v":2}',
    "another key": b'{"v":1,"id":"n1"}',
    "an empty object": b"{}",
    "an empty array": b"[]",
    "a null element": b'[{"v":1},null]',
    "NaN": b'{"v":NaN}',
    "Infinity": b'{"v":-Infinity}',
    "a leading zero": b'{"v":01}',
    "a bare fraction point": b'{"v":1.}',
    "a bare exponent": b'{"v":1e}',
    "a value as text": b'{"v":"1"}',
    "a sensor as number": b'{"sensor":1}',
    "a boolean": b'{"v":true}',
    "an epoch time": b'{"t":1709251200}',
    "a trailing comma": b'[{"v":1},]',
    "two objects": b'{"v":1}{"v":2}',
    "a missing comma": b'[{"v":1} {"v":2}]',
    "text after": b'{"v":1} x',
    "a tab inside a string": b'{"sensor":"a\tb"}',
    "a byte order mark": b'\xef\xbb\xbf{"v":1}',
    "a vertical tab around": b'\x0b{"v":1}',
    "a nested value": b'{"v":{"x":1}}',
    "an unclosed array": b'[{"v":1}',
    "an unclosed string": b'{"sensor":"a}',
    "empty": b"",
}


@pytest.mark.parametrize("case", list(DECLINED))
def test_other_messages_make_the_scanner_decline_the_batch(case: str) -> None:
    good = b'{"sensor":"n1","t":"2024-03-01T00:00:00Z","v":30.5,"unit":"m"}'
    assert scan_common(_text([good, DECLINED[case]])) is None
    assert scan_common(_text([good])) is not None


_NUMBER = st.from_regex(r"-?(0|[1-9][0-9]{0,24})(\.[0-9]{1,24})?([eE][+-]?[0-9]{1,3})?", fullmatch=True)


@settings(max_examples=400, deadline=None)
@given(st.lists(_NUMBER, min_size=1, max_size=20))
def test_numbers_are_what_python_reads(numbers: list[str]) -> None:
    """Every JSON number, short or long, tiny or huge: the same float, bit for bit, as Python's json
    (an integer is read as an int first, so -0 is 0)."""
    payload = ("[" + ",".join(f'{{"v":{n}}}' for n in numbers) + "]").encode()
    table = scan_common(_text([payload]))
    assert table is not None
    assert [_bits(v) for v in table["value"].to_pylist()] == [
        _bits(float(json.loads(n))) for n in numbers
    ]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**70), 2**70), min_size=1)
)
def test_numbers_as_producers_write_them(values: list[float | int]) -> None:
    payload = json.dumps([{"v": v} for v in values]).encode()
    table = scan_common(_text([payload]))
    assert table is not None
    assert [_bits(v) for v in table["value"].to_pylist()] == [_bits(float(v)) for v in values]


_KEYS = st.sampled_from(["sensor", "t", "v", "unit", "id", "x", "n"])
_TEXT = st.one_of(st.none(), st.text(max_size=5), st.sampled_from(["n1", "a},{b", '"', "\\"]))
_ANY = st.one_of(_TEXT, st.floats(), st.integers(), st.booleans(), st.lists(st.integers(), max_size=1))


@st.composite
def _message(draw: st.DrawFn) -> bytes:
    """Mostly the plain common shape, in any spacing; sometimes an odd key, type, escape or repeat."""

    def pair() -> str:
        key = draw(st.sampled_from(["sensor", "t", "unit", "v"]))
        value = (
            draw(st.floats(allow_nan=False) | st.integers() | st.none()) if key == "v" else draw(_TEXT)
        )
        if draw(st.integers(0, 9)) == 0:
            key, value = draw(_KEYS), draw(_ANY)
        return (
            json.dumps(key)
            + draw(st.sampled_from([":", " : ", ":\n"]))
            + json.dumps(value, ensure_ascii=draw(st.booleans()))
        )

    def obj() -> str:
        pairs = [pair() for _ in range(draw(st.integers(0, 5)))]
        return "{" + draw(st.sampled_from([",", " , ", ",\t"])).join(pairs) + "}"

    if draw(st.booleans()):
        text = obj()
    else:
        text = (
            "["
            + draw(st.sampled_from([",", ", "])).join(obj() for _ in range(draw(st.integers(0, 3))))
            + "]"
        )
    return (
        draw(st.sampled_from(["", " ", "\n"])) + text + draw(st.sampled_from(["", " \r\n"]))
    ).encode()


def _plain_common(payload: bytes) -> bool:
    """Whether a message is one the scanner must read: JSON of the common shape, plain (no escape,
    NaN or infinity), no key twice, no empty object or array."""
    if b"\\" in payload:
        return False
    repeated, constants = [], []

    def pairs(items: list[tuple[str, object]]) -> dict:
        keys = [k for k, _ in items]
        repeated.append(len(set(keys)) != len(keys))
        return dict(items)

    item = json.loads(payload, object_pairs_hook=pairs, parse_constant=constants.append)
    objs = item if isinstance(item, list) else [item]
    types = {"sensor": str, "t": str, "unit": str, "v": (int, float)}
    return (
        bool(objs)
        and not any(repeated)
        and not constants
        and all(
            isinstance(o, dict)
            and o
            and all(
                k in types and (v is None or (isinstance(v, types[k]) and not isinstance(v, bool)))
                for k, v in o.items()
            )
            for o in objs
        )
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_message(), min_size=1, max_size=6))
def test_the_scanner_reads_exactly_the_plain_common_messages(payloads: list[bytes]) -> None:
    table = scan_common(_text(payloads))
    assert (table is not None) == all(_plain_common(p) for p in payloads)
    if table is not None:
        _same(table, _expected(payloads))
        exact = batch.read_common(payloads, 1_000_000)  # the batch path agrees (scanned there too)
        assert exact is not None and exact.verify() and exact.records.equals(table)


def test_without_numba_batches_are_read_by_duckdb(monkeypatch: pytest.MonkeyPatch) -> None:
    payloads = [
        json.dumps({"sensor": "n1", "t": "2024-03-01T00:00:00Z", "v": 1.5, "unit": "m"}).encode()
    ]
    monkeypatch.setattr(scan, "_load", lambda: None)
    read = batch.read_common(payloads, 1_000_000)
    assert read is not None and read.verified is None  # read by DuckDB, verified apart
    assert read.verify() and read.records["value"].to_pylist() == [1.5]
    assert not math.isnan(read.records["value"][0].as_py())


# --- times: the scanner parses the usual ISO-8601 forms exactly as the rules' SQL does -----------------
_DIGITS = st.integers(0, 99).map(lambda k: f"{k:02d}")


@st.composite
def _iso(draw: st.DrawFn) -> str:
    """ISO-8601 times, mostly real, sometimes not (a 30 February, hour 24, seven fraction digits)."""
    year = draw(
        st.sampled_from([1, 1899, 1900, 1970, 2000, 2023, 2024, 2100, 9999]) | st.integers(1, 9999)
    )
    text = f"{year:04d}-{draw(_DIGITS)}-{draw(_DIGITS)}T{draw(_DIGITS)}:{draw(_DIGITS)}:{draw(_DIGITS)}"
    if draw(st.booleans()):
        text += "." + draw(st.text("0123456789", min_size=0, max_size=7))
    zone = draw(st.sampled_from(["Z", "+", "-", "", "z", " UTC"]))
    if zone in "+-":
        zone += f"{draw(_DIGITS)}:{draw(_DIGITS)}"
    return text + zone


def _duckdb_times(texts: list[str]) -> list[object]:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return [
        con.execute("SELECT TRY_CAST(? AS TIMESTAMPTZ)", [t]).fetchone()[0]
        for t in texts  # type: ignore[index]
    ]


@settings(max_examples=300, deadline=None)
@given(st.lists(_iso(), min_size=1, max_size=5))
def test_parsed_times_are_those_duckdb_reads(texts: list[str]) -> None:
    """When the scanner parses a batch's times, each is the instant DuckDB's cast (the rules' parse)
    gives; a form it does not know leaves the batch's times to the rules."""
    payload = json.dumps([{"sensor": "n1", "t": t, "v": 1} for t in texts]).encode()
    table = scan_common(_text([payload]))
    assert table is not None
    if PARSED_TIME in table.column_names:
        assert table[PARSED_TIME].to_pylist() == _duckdb_times(texts)


def test_usual_times_are_parsed_and_repeats_reuse_the_one_before() -> None:
    texts = ["2024-02-29T23:59:59.5Z", "2024-02-29T23:59:59.5Z", "2024-03-01T01:00:00+01:00",
             "1970-01-01T00:00:00.000001Z", "0001-01-01T00:00:00-23:59"]  # fmt: skip
    table = scan_common(_text([json.dumps([{"t": t} for t in texts]).encode()]))
    assert table is not None and PARSED_TIME in table.column_names
    assert table[PARSED_TIME].to_pylist() == _duckdb_times(texts)
    for other in ("2023-02-29T00:00:00Z", "2024-01-01 00:00:00Z", "2024-01-01T00:00:00", "", None):
        table = scan_common(_text([json.dumps([{"t": texts[0]}, {"t": other}]).encode()]))
        assert table is not None and PARSED_TIME not in table.column_names, other


def test_parsed_times_give_what_the_rules_give_from_text() -> None:
    """The same batch validated with the scanner's times and with the texts alone: same readings and
    quarantine (future, before 1900, unknown sensor)."""
    registry = _registry()
    rows = [("n1", "2024-03-01T00:00:00Z", 30.5), ("n1", "2024-03-01T00:05:00+01:00", 31.0),
            ("zz", "2024-03-01T00:10:00Z", 1.0), ("n1", "1899-12-31T23:59:59Z", 1.0),
            ("n1", "2099-01-01T00:00:00.25Z", 1.0), ("n1", "2024-03-01T00:00:00Z", 30.5)]  # fmt: skip
    payload = json.dumps([{"sensor": s, "t": t, "v": v, "unit": "m"} for s, t, v in rows]).encode()
    table = scan_common(_text([payload]))
    assert table is not None and PARSED_TIME in table.column_names
    fast = validate(table, registry, source="mqtt", now=NOW, received_at=NOW)
    slow = validate(table.drop_columns([PARSED_TIME]), registry, source="mqtt", now=NOW, received_at=NOW)
    pd.testing.assert_frame_equal(fast.readings, slow.readings)
    pd.testing.assert_frame_equal(fast.quarantine, slow.quarantine)
    assert fast.duplicates == slow.duplicates == 1
    assert set(fast.quarantine["reason"]) == {"unknown sensor", "bad timestamp", "future"}


def test_batches_with_and_without_parsed_times_join() -> None:
    usual = json.dumps([{"sensor": "n1", "t": "2024-03-01T00:00:00Z", "v": 1, "unit": "m"}]).encode()
    other = json.dumps([{"sensor": "n1", "t": "2024-03-01 00:05", "v": 2, "unit": "m"}]).encode()
    reads = [batch.read_common([p], 1_000_000) for p in (usual, other)]
    assert all(r is not None for r in reads)
    joined = batch.Read.join(reads)  # type: ignore[arg-type]
    assert joined is not None and joined[PARSED_TIME].null_count == 1
    checked = validate(joined, _registry(), source="mqtt", now=NOW, received_at=NOW)
    assert list(checked.readings["value"]) == [1.0, 2.0] and checked.quarantine.empty


def _registry() -> SensorRegistry:
    reg = SensorRegistry(source="test")
    reg.add(make_sensor({"id": "n1", "kind": "pressure", "unit": "m"}))
    return reg


def test_a_scanner_that_cannot_load_says_so_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A broken Numba (or a cache it cannot write) costs speed, not readings, and is not silent."""
    monkeypatch.setitem(sys.modules, "tirta.telemetry.ingest._scan_kernels", None)  # import fails
    monkeypatch.delattr(sys.modules["tirta.telemetry.ingest"], "_scan_kernels", raising=False)
    monkeypatch.setattr(scan, "_kernels", None)
    monkeypatch.setattr(scan, "_missing", False)
    with pytest.warns(RuntimeWarning, match="NUMBA_CACHE_DIR"):
        assert scan.scan_common(_text([b'{"v":1}'])) is None
    assert scan._missing and scan._load() is None  # once: no second warning
    read = batch.read_common([b'{"sensor":"n1","t":"2024-03-01T00:00:00Z","v":1,"unit":"m"}'], 1_000_000)
    assert read is not None and read.verify() and read.records["value"].to_pylist() == [1.0]


def test_numbers_beyond_the_fast_path_and_the_float_range() -> None:
    long = "1" + "0" * 400 + ".5e-380"
    table = scan_common(_text([f'[{{"v":{long}}},{{"v":{"9" * 5000}}},{{"v":-1e400}}]'.encode()]))
    assert table is not None
    assert table["value"].to_pylist() == [float(long), math.inf, -math.inf]
