"""Batch parsing of MQTT payloads by DuckDB gives what parsing message by message gives, or declines."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence

import duckdb
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tirta.network.sensors import SensorRegistry, make_sensor
from tirta.telemetry.ingest import batch
from tirta.telemetry.ingest.batch import parse_common
from tirta.telemetry.ingest.mqtt import parse_payload
from tirta.telemetry.ingest.records import as_frame
from tirta.telemetry.validate import validate

NOW = pd.Timestamp("2024-06-01", tz="UTC")


def _registry() -> SensorRegistry:
    reg = SensorRegistry(source="test")
    reg.add(make_sensor({"id": "n1", "kind": "pressure", "unit": "m"}))
    reg.add(make_sensor({"id": "p227", "kind": "flow", "unit": "m3/h"}))
    return reg


def _one_by_one(payloads: list[bytes]) -> list[dict]:
    records: list[dict] = []
    for p in payloads:
        parsed = parse_payload("t", p)
        assert not parsed.rejected
        records += parsed.records
    return records


def _r(sensor: object = "n1", t: object = "2024-03-01T00:00:00Z", v: object = 30.5, unit: object = "m"):
    return {"sensor": sensor, "t": t, "v": v, "unit": unit}


SAME = {
    "objects and arrays": [_r(), [_r(v=31), _r("p227", v=2.5, unit="m3/h")], _r(v=1e6)],
    "repeats and conflicts keep their order": [[_r(v=1.0), _r(v=2.0)], _r(v=1.0), [_r(v=3)]],
    "unknown sensors, bad times, missing units": [[_r("zz"), _r(t="yesterday"), _r(unit=None)]],
    "null and missing fields": [[_r(v=None), {"sensor": "n1", "t": "2024-03-01T00:05:00Z"}]],
    "integers only": [[_r(v=30), _r(t="2024-03-01T00:05:00Z", v=-2)]],
    "large numbers": [[_r(v=9007199254740993), _r(t="2024-03-01T00:10:00Z", v=1e300)]],
    "NaN and infinity": [[_r(v=float("nan")), _r(t="2024-03-01T00:10:00Z", v=float("-inf"))]],
    "text with escapes": [[_r(sensor='n\u00e91"x'), _r(unit="m\\n")]],
}


@pytest.mark.parametrize("case", list(SAME))
def test_common_shapes_give_the_same_readings_and_quarantine(case: str) -> None:
    payloads = [json.dumps(m).encode() for m in SAME[case]]
    table = parse_common(payloads, 1_000_000)
    assert table is not None
    fast = validate(table, _registry(), source="mqtt", now=NOW, received_at=NOW)
    slow = validate(
        as_frame(_one_by_one(payloads)), _registry(), source="mqtt", now=NOW, received_at=NOW
    )
    pd.testing.assert_frame_equal(fast.readings, slow.readings)
    pd.testing.assert_frame_equal(fast.quarantine, slow.quarantine)
    assert fast.duplicates == slow.duplicates


OTHER = {
    "epoch seconds": [_r(t=1709251200)],
    "value as text": [_r(v="30.5")],
    "value as boolean": [_r(v=True)],
    "sensor as number": [_r(sensor=7)],
    "an id instead of a sensor": [{"id": "n1", "t": "2024-03-01T00:00:00Z", "v": 1, "unit": "m"}],
    "SenML": [[{"bn": "n1", "bt": 1709251200, "u": "m"}, {"v": 30.0}]],
    "a null in the array": [[_r(), None]],
    "nested value": [_r(v={"x": 1})],
    "empty array": [[]],
    "empty object": [{}],
}


@pytest.mark.parametrize("case", list(OTHER))
def test_other_shapes_are_left_to_the_message_parser(case: str) -> None:
    payloads = [json.dumps(_r()).encode(), json.dumps(OTHER[case]).encode()]
    assert parse_common(payloads, 1_000_000) is None


@pytest.mark.parametrize("bad", [b"{nope", b"\xff\xfe", b"x" * 200, b"null", b'"text"'])
def test_unreadable_or_large_messages_are_left_to_the_message_parser(bad: bytes) -> None:
    assert parse_common([json.dumps(_r()).encode(), bad], 100) is None


# --- the plain-form test: a shortcut that must never change the answer ------------------------------
_KEYS = st.sampled_from(["sensor", "t", "v", "unit", "id", "time", "value", "u", "n", "bn", "x"])
_TEXT = st.one_of(
    st.none(), st.text(max_size=6), st.sampled_from(["n1", "p227", "m", "2024-03-01T00:00:00Z", "a},{b"])
)
_NUMBER = st.one_of(
    st.none(), st.integers(min_value=-(2**70), max_value=2**70), st.floats()
)  # NaN and ±inf too (Python writes them as NaN, Infinity)
_VALUES = st.one_of(_TEXT, _NUMBER, st.booleans(), st.lists(st.integers(), max_size=2))


@st.composite
def _object(draw: st.DrawFn) -> dict:
    """Mostly the common shape; every other one with an odd key or a value of another type."""
    obj = draw(
        st.fixed_dictionaries({}, optional={"sensor": _TEXT, "t": _TEXT, "v": _NUMBER, "unit": _TEXT})
    )
    if draw(st.booleans()):
        obj[draw(_KEYS)] = draw(_VALUES)
    return obj


_MESSAGES = st.one_of(_object(), st.lists(_object(), max_size=3), st.lists(st.none(), max_size=1))


@st.composite
def _payload(draw: st.DrawFn) -> bytes:
    """A message written with any of JSON's spacings, escaped or plain."""
    item, comma, colon = (
        draw(_MESSAGES),
        draw(st.sampled_from([",", ", ", " ,\n"])),
        draw(st.sampled_from([":", ": ", " :\t"])),
    )
    text = json.dumps(item, separators=(comma, colon), ensure_ascii=draw(st.booleans()))
    pad = st.sampled_from(["", " ", "\n", "\r\n\t"])
    return (draw(pad) + text + draw(pad)).encode()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_payload(), min_size=1, max_size=8))
def test_the_plain_form_shortcut_gives_what_the_exact_shape_test_gives(payloads: list[bytes]) -> None:
    """Messages the regular expression calls plain are of the common shape, and parsing a batch with
    the shortcut gives the same table as with the exact test alone."""
    plain = batch._plain(pa.array([p.decode() for p in payloads], pa.string())).to_pylist()
    con = duckdb.connect()
    for p, is_plain in zip(payloads, plain, strict=True):
        if is_plain:
            (structure,) = con.execute("SELECT json_structure(?)", [p.decode()]).fetchone()
            assert batch._common(structure), p
    shortcut = batch.parse_common(payloads, 1_000_000)
    saved = batch._plain
    try:
        batch._plain = lambda text: pa.array([False] * len(text))
        exact = batch.parse_common(payloads, 1_000_000)
    finally:
        batch._plain = saved
    assert (shortcut is None) == (exact is None)
    if shortcut is not None and exact is not None:
        assert shortcut.equals(exact)


def test_plain_messages_in_any_spacing_and_key_order_take_the_shortcut() -> None:
    payloads = [
        b'{"sensor":"n1","t":"2024-03-01T00:00:00Z","v":30.5,"unit":"m"}',
        b' [ { "unit" : "m" , "v" : -2e3 , "t" : null , "sensor" : "n1" } ,\n{"v":0}] \n',
        '[{"sensor":"n\u00e91","t":"x","v":1,"unit":"m"}]'.encode(),
    ]
    text = pa.array([p.decode() for p in payloads], pa.string())
    assert batch._plain(text).to_pylist() == [True, True, True]
    not_plain = [b'{"sensor":"n\\u00e91"}', b"{}", b"[]", b'{"v":NaN}', b'{"v":"1"}', b'{"x":1}']
    text = pa.array([p.decode() for p in not_plain], pa.string())
    assert batch._plain(text).to_pylist() == [False] * len(not_plain)


def test_a_large_batch_keeps_message_order() -> None:
    payloads = [json.dumps([_r(v=i), _r("p227", v=-i, unit="m3/h")]).encode() for i in range(3000)]
    table = parse_common(payloads, 1_000_000)
    assert table is not None
    assert table["value"].to_pylist() == [v for i in range(3000) for v in (float(i), float(-i))]
    assert table["sensor"].to_pylist() == ["n1", "p227"] * 3000


def test_warm_up_parses_once_per_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ingester warms up in start() and again in run(): the second call in a thread costs nothing,
    and a new thread warms its own connection."""
    calls: list[str] = []
    real = batch.parse_common

    def counting(payloads: Sequence[bytes], max_bytes: int) -> pa.Table | None:
        calls.append(threading.current_thread().name)
        return real(payloads, max_bytes)

    monkeypatch.setattr(batch, "parse_common", counting)

    def fresh_thread() -> None:
        batch.warm_up()
        batch.warm_up()

    worker = threading.Thread(target=fresh_thread, name="fresh")
    worker.start()
    worker.join()
    assert calls == ["fresh", "fresh"]  # two tiny batches, once: the second warm_up parsed nothing
    assert batch._connection() is not None


def test_a_batch_read_at_once_is_only_used_once_its_shape_is_verified() -> None:
    """Reading declines nothing DuckDB can read (an epoch time reads as text); the shape test, run
    apart (by the MQTT commit thread), is what sends such a batch to the per-message parse."""
    plain = [json.dumps(_r()).encode(), json.dumps([_r(v=2.0)]).encode()]
    read = batch.read_common(plain, 1_000_000)
    assert read is not None and read.verify() and read.records.num_rows == 2
    epoch = [*plain, json.dumps(_r(t=1709251200)).encode()]
    odd = batch.read_common(epoch, 1_000_000)
    assert odd is not None and odd.records.num_rows == 3  # read, but ...
    assert not odd.verify()  # ... not of the common shape: the epoch time must become ISO text
    assert parse_common(epoch, 1_000_000) is None
    assert batch.read_common([b"not json"], 1_000_000) is None


def test_a_batch_is_verified_once_whichever_threads_ask(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reading and the committing thread may both ask; the shape test runs once, the second
    caller waits for its result; and joined batches are the records of each, in order."""
    calls, gate = [], threading.Event()
    verify = batch._verify

    def slow(text: pa.Array) -> bool:
        calls.append(len(text))
        gate.wait(5)
        return verify(text)

    monkeypatch.setattr(batch, "_verify", slow)
    escaped = _r(sensor="n\u00e91")  # an escape: not for the scanner, read by DuckDB and verified apart
    first = batch.read_common([json.dumps(escaped).encode()], 1_000_000)
    second = batch.read_common(
        [json.dumps([escaped | {"v": 2.0}, escaped | {"v": 3.0}]).encode()], 1_000_000
    )
    assert first is not None and second is not None and first.verified is None
    results: list[bool] = []
    askers = [threading.Thread(target=lambda: results.append(first.verify())) for _ in range(2)]
    for t in askers:
        t.start()
    gate.set()
    for t in askers:
        t.join()
    assert calls == [1] and results == [True, True] and first.verified is True
    joined = batch.Read.join([first, second])
    assert joined is not None and joined["value"].to_pylist() == [_r()["v"], 2.0, 3.0]
    assert calls == [1, 1]  # only the second batch was still to verify
