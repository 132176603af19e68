"""Batch parsing of MQTT payloads by DuckDB gives what parsing message by message gives, or declines."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tirta.network.sensors import SensorRegistry, make_sensor
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
