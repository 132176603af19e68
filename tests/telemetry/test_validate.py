"""Validation as a pure function: every reason, SI conversion, duplicates within a batch."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tirta.errors import InputError
from tirta.network.sensors import SensorRegistry, make_sensor
from tirta.telemetry.validate import validate

NOW = pd.Timestamp("2021-01-01 12:00", tz="UTC")


@pytest.fixture
def registry() -> SensorRegistry:
    return _registry()


def _registry() -> SensorRegistry:
    reg = SensorRegistry()
    reg.add(make_sensor({"id": "n1", "kind": "pressure", "unit": "m"}))
    reg.add(make_sensor({"id": "p227", "kind": "flow", "unit": "m3/h"}))
    reg.add(make_sensor({"id": "T1", "kind": "level", "installed": "2020-06-01"}))
    return reg


def rec(sensor: object, time: object, value: object, unit: object) -> dict[str, object]:
    return {"sensor": sensor, "time": time, "value": value, "unit": unit}


def test_valid_records_are_converted_to_si_and_utc(registry: SensorRegistry) -> None:
    raw = pd.DataFrame(
        [
            rec("n1", "2021-01-01 00:00", "3.5", "bar"),
            rec("p227", "2021-01-01T02:00:00+02:00", 36.0, "m3/h"),
            rec("T1", "2021-01-01 00:05", "2,5".replace(",", "."), "m"),
        ]
    )
    out = validate(raw, registry, source="t", now=NOW)
    assert out.quarantine.empty and out.duplicates == 0
    got = out.readings.set_index("sensor")
    assert got.loc["n1", "value"] == pytest.approx(3.5 * 100 / 9.80665)
    assert got.loc["p227", "value"] == pytest.approx(0.01)
    assert got.loc["p227", "time"] == pd.Timestamp("2021-01-01 00:00", tz="UTC")
    assert str(out.readings["time"].dt.tz) == "UTC"


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (rec("nX", "2021-01-01", 1.0, "m"), "unknown sensor"),
        (rec("n1'); DROP TABLE readings; --", "2021-01-01", 1.0, "m"), "unknown sensor"),
        (rec("n1", "yesterday", 1.0, "m"), "bad timestamp"),
        (rec("n1", "2021-13-45 00:00", 1.0, "m"), "bad timestamp"),
        (rec("n1", "0001-01-01", 1.0, "m"), "bad timestamp"),  # no sensor logged before 1900
        (rec("n1", "-infinity", 1.0, "m"), "bad timestamp"),
        (rec("n1", "infinity", 1.0, "m"), "bad timestamp"),
        (rec("n1", -4_000_000_000, 1.0, "m"), "bad timestamp"),  # epoch seconds: 1843
        (rec("n1", "2021-01-01", "12.3.4", "m"), "not a number"),
        (rec("n1", "2021-01-01", "", "m"), "not a number"),
        (rec("n1", "2021-01-01", None, "m"), "not a number"),
        (rec("n1", "2021-01-01", "NaN", "m"), "not finite"),
        (rec("n1", "2021-01-01", "-inf", "m"), "not finite"),
        (rec("n1", "2021-01-01", float("inf"), "m"), "not finite"),
        (rec("n1", "2021-01-01", 1.0, ""), "unit missing"),
        (rec("n1", "2021-01-01", 1.0, None), "unit missing"),
        (rec("n1", "2021-01-01", 1.0, "m3/h"), "unit not convertible"),
        (rec("p227", "2021-01-01", 1.0, "kPa"), "unit not convertible"),
        (rec("p227", "2021-01-01", 1.0, "furlongs"), "unit not convertible"),
        (rec("n1", "2021-01-01", 30.0, "bar"), "out of range"),
        (rec("n1", "2021-01-01", -25.0, "m"), "out of range"),
        (rec("n1", "2099-01-01 00:00", 1.0, "m"), "future"),
        (rec("n1", "2021-01-01 12:06", 1.0, "m"), "future"),
        (rec("T1", "2020-05-31 23:55", 1.0, "m"), "before installed"),
    ],
)
def test_each_bad_record_is_quarantined_with_its_reason(
    registry: SensorRegistry, record: dict[str, object], reason: str
) -> None:
    good = rec("n1", "2021-01-01 06:00", 30.0, "m")
    out = validate(pd.DataFrame([good, record]), registry, source="mqtt:plant", now=NOW)
    assert len(out.readings) == 1 and out.readings["sensor"].iloc[0] == "n1"
    assert out.reasons() == {reason: 1}
    q = out.quarantine.iloc[0]
    assert q["source"] == "mqtt:plant" and q["reason"] == reason and q["detail"]
    assert json.loads(q["payload"])["sensor"] == str(record["sensor"])


def test_five_minutes_ahead_is_still_accepted(registry: SensorRegistry) -> None:
    out = validate(
        pd.DataFrame([rec("n1", "2021-01-01 12:05", 1.0, "m")]), registry, source="t", now=NOW
    )
    assert len(out.readings) == 1 and out.quarantine.empty


def test_repeats_in_a_batch_are_counted_and_changed_values_kept_in_order(
    registry: SensorRegistry,
) -> None:
    raw = pd.DataFrame(
        [
            rec("n1", "2021-01-01 00:00", 10.0, "m"),
            rec("n1", "2021-01-01 00:00", "10", "m"),  # the same reading resent: duplicate
            rec("n1", "2021-01-01 00:00", 11.0, "m"),  # same key, other value: a correction
            rec("n1", "2021-01-01 00:05", 11.0, "m"),
        ]
    )
    out = validate(raw, registry, source="t", now=NOW)
    assert out.readings["value"].tolist() == [10.0, 11.0, 11.0]  # the store applies them in order
    assert out.duplicates == 1
    assert out.reasons() == {}


def test_the_raw_payload_is_kept_when_given(registry: SensorRegistry) -> None:
    raw = pd.DataFrame([rec("zz", "2021-01-01", 1.0, "m") | {"payload": '{"id": "zz", "v": 1}'}])
    out = validate(raw, registry, source="http", now=NOW)
    assert out.quarantine["payload"].tolist() == ['{"id": "zz", "v": 1}']


def test_missing_column_is_an_input_error(registry: SensorRegistry) -> None:
    with pytest.raises(InputError) as err:
        validate(
            pd.DataFrame({"sensor": ["n1"], "time": ["2021-01-01"], "value": [1]}), registry, source="t"
        )
    assert err.value.field == "unit"


def test_a_large_batch_is_validated_whole(registry: SensorRegistry) -> None:
    n = 200_000
    times = pd.date_range("2020-01-01", periods=n, freq="min", tz="UTC")
    raw = pd.DataFrame({"sensor": "n1", "time": times, "value": np.linspace(0, 50, n), "unit": "m"})
    raw.loc[::1000, "value"] = 1e6
    out = validate(raw, registry, source="bulk", now=NOW)
    assert len(out.readings) == n - 200 and out.reasons() == {"out of range": 200}
    assert out.readings["time"].is_monotonic_increasing  # input order kept


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["n1", " n1", "T1", "zz"]),
            st.integers(0, 3),
            st.sampled_from([1.0, 2.0]),
            st.sampled_from(["m", "m", " m"]),
        ),
        max_size=25,
    ),
    order=st.sampled_from(["as drawn", "by sensor", "by time"]),
)
def test_repeats_match_an_oracle_whatever_the_order(
    rows: list[tuple[str, int, float, str]], order: str
) -> None:
    """The cheap ordered-batch shortcut and the grouping agree with a reading-by-reading oracle:
    a repeated key is a resend when its value is the one before, else a correction, kept in order."""
    if order == "by sensor":
        rows = sorted(rows, key=lambda r: (r[0].strip(), r[1]))
    elif order == "by time":
        rows = sorted(rows, key=lambda r: (r[1], r[0].strip()))
    start = pd.Timestamp("2020-07-01", tz="UTC")
    raw = pd.DataFrame(
        [rec(s, (start + pd.Timedelta(minutes=5 * t)).isoformat(), v, u) for s, t, v, u in rows]
    )
    current: dict[tuple[str, int], float] = {}
    kept, duplicates, unknown = [], 0, 0
    for s, t, si, _unit in rows:  # "m" and " m" are both metres: two pairs, one sensor
        key = (s.strip(), t)
        if key[0] == "zz":
            unknown += 1
        elif current.get(key) == si:  # the value it has already: a resend
            duplicates += 1
        else:  # a new reading, or a correction of the one before
            current[key] = si
            kept.append((key[0], si))
    out = validate(
        raw if len(raw) else pd.DataFrame(columns=["sensor", "time", "value", "unit"]),
        _registry(),
        source="t",
        now=NOW,
    )
    assert out.duplicates == duplicates
    assert out.reasons() == ({"unknown sensor": unknown} if unknown else {})
    got = list(zip(out.readings["sensor"], out.readings["value"], strict=True))
    assert [s for s, _ in got] == [s for s, _ in kept]
    assert [v for _, v in got] == [v for _, v in kept]


@settings(max_examples=60, deadline=None)
@given(
    value=st.floats(min_value=-1e3, max_value=1e3, allow_nan=False),
    unit=st.sampled_from(["m", "kPa", "bar", "psi", "mbar"]),
)
def test_pressure_is_accepted_exactly_when_its_si_value_is_in_range(value: float, unit: str) -> None:
    reg = SensorRegistry()
    reg.add(make_sensor({"id": "n1", "kind": "pressure"}))
    from tirta.units import to_si

    out = validate(pd.DataFrame([rec("n1", "2021-01-01", value, unit)]), reg, source="t", now=NOW)
    si = to_si(value, unit, "pressure")
    if -20.0 <= si <= 250.0:
        assert out.readings["value"].iloc[0] == pytest.approx(si)
    else:
        assert out.reasons() == {"out of range": 1}


@settings(max_examples=60, deadline=None)
@given(
    runs=st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "2021-01-01T00:05:00Z",
                    "2021-01-01 01:00:00+02",
                    "2021-01-01 00:10",
                    "1 Jan 2021",
                    "2021-02-30 00:00",
                    "",
                    None,
                ]
            ),
            st.integers(1, 12),
        ),
        max_size=8,
    ),
    arrow=st.booleans(),
)
def test_times_parsed_once_per_run_read_as_times_parsed_one_by_one(
    runs: list[tuple[str | None, int]], arrow: bool
) -> None:
    """A time-major batch repeats each time once per sensor; its times are parsed once per run of equal
    text. Readings, reasons and the texts kept for rejected rows are those of parsing row by row."""
    import importlib

    import pyarrow as pa

    module = importlib.import_module("tirta.telemetry.validate.parse")
    sensors = ["n1", "T1", "zz"]
    rows = [
        rec(sensors[i % 3], text, str(1.0 + i % 5), "m") for text, count in runs for i in range(count)
    ]
    raw = pd.DataFrame(rows, columns=["sensor", "time", "value", "unit"])
    text = pa.schema([(c, pa.string()) for c in raw.columns])
    records = pa.Table.from_pandas(raw, text, preserve_index=False) if arrow else raw
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(module, "RUN_MIN", 1)  # always by run
        by_run = validate(records, _registry(), source="t", now=NOW)
        patch.setattr(module, "RUN_MIN", 10**9)  # never
        one_by_one = validate(records, _registry(), source="t", now=NOW)
    pd.testing.assert_frame_equal(by_run.readings, one_by_one.readings)
    drop = ["received_at"]
    pd.testing.assert_frame_equal(
        by_run.quarantine.drop(columns=drop), one_by_one.quarantine.drop(columns=drop)
    )
    assert by_run.duplicates == one_by_one.duplicates


@settings(max_examples=150, deadline=None)
@given(
    run=st.lists(st.sampled_from(["a", "b", "c", "d", " a", ""]), min_size=1, max_size=5, unique=True),
    repeats=st.integers(1, 6),
    change=st.one_of(st.none(), st.tuples(st.integers(0, 40), st.sampled_from(["a", "z"]))),
    cuts=st.lists(st.integers(0, 40), max_size=4),
)
def test_codes_of_a_repeating_column_are_those_of_hashing_it(
    run: list[str], repeats: int, change: tuple[int, str] | None, cuts: list[int]
) -> None:
    """A time-major file's sensor column repeats one run of sensors; its codes, told by comparing the
    column with itself shifted, are those hashing gives, however the column is chunked or broken."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from tirta.telemetry.validate.pairs import _codes

    values = run * repeats
    if change is not None and change[0] < len(values):
        values[change[0]] = change[1]
    bounds = sorted({0, len(values), *(c for c in cuts if c < len(values))})
    column = pa.chunked_array(
        [pa.array(values[a:b], pa.string()) for a, b in itertools.pairwise(bounds)],
        pa.string(),
    )
    codes, names = _codes(column)
    encoded = pc.dictionary_encode(pa.array(values, pa.string()))
    assert names == encoded.dictionary.to_pylist()
    assert codes.tolist() == encoded.indices.to_pylist()


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 4)), max_size=12),
    order=st.sampled_from(["as drawn", "by sensor", "by time"]),
)
def test_the_input_order_from_numpy_is_that_of_every_row(
    rows: list[tuple[int, int]], order: str
) -> None:
    """The NumPy shortcut names an order only when every row follows it strictly (then the valid
    rows do too); a repeat, an unknown sensor or a missing time leaves it to the SQL test."""
    import pyarrow as pa

    from tirta.telemetry.validate.rules import _input_order

    if order == "by sensor":
        rows = sorted(rows, key=lambda r: (r[0], r[1]))
    elif order == "by time":
        rows = sorted(rows, key=lambda r: (r[1], r[0]))
    k = [2, 0, 3, -1]  # pair 3 is an unknown sensor
    key = pa.chunked_array([pa.array([p for p, _ in rows], pa.int32())])
    times = pa.chunked_array([pa.array([t * 300_000_000 for _, t in rows], pa.timestamp("us", "UTC"))])
    got = _input_order(key, times, k)
    pairs = [(k[p], t) for p, t in rows]
    by_sensor = all(a < b for a, b in itertools.pairwise(pairs))
    by_time = all((a[1], a[0]) < (b[1], b[0]) for a, b in itertools.pairwise(pairs))
    if not rows or any(s < 0 for s, _ in pairs):
        assert got is None
    else:
        assert got == ("sensor" if by_sensor else "time" if by_time else None)
    with_gap = pa.chunked_array([pa.array([None] + [0] * len(rows), pa.timestamp("us", "UTC"))])
    assert (
        _input_order(pa.chunked_array([pa.array([0] * (len(rows) + 1), pa.int32())]), with_gap, k)
        is None
    )


def test_a_time_major_stream_batch_takes_the_shortcut_and_a_repeat_does_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Twenty time steps of ten sensors (runs of ten equal times: the NumPy order test applies and the
    SQL one is not run), then the same with one reading sent again with another value: the SQL test
    runs, and the correction is kept last."""
    from tirta.telemetry.validate import rules

    reg = SensorRegistry()
    for i in range(10):
        reg.add(make_sensor({"id": f"s{i}", "kind": "pressure", "unit": "m"}))
    start = pd.Timestamp("2020-07-01", tz="UTC")
    grid = [
        rec(f"s{i}", (start + pd.Timedelta(minutes=5 * t)).isoformat(), 10.0 + t, "m")
        for t in range(20)
        for i in range(10)
    ]
    sql_order = rules._order

    def not_here(con: object) -> None:
        raise AssertionError("the SQL order test ran")

    monkeypatch.setattr(rules, "_order", not_here)
    out = validate(pd.DataFrame(grid), reg, source="t", now=NOW)
    assert len(out.readings) == 200 and out.duplicates == 0
    monkeypatch.setattr(rules, "_order", sql_order)
    again = [*grid, rec("s3", grid[3]["time"], 99.0, "m")]
    out = validate(pd.DataFrame(again), reg, source="t", now=NOW)
    assert len(out.readings) == 201 and out.readings["value"].iloc[-1] == 99.0
