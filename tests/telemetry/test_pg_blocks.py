"""Readings packed per sensor and UTC day in PostgreSQL (``blocks``): the packing, merging and bucket
arithmetic against plain oracles, and the store's guarantees when rows, blocks and compaction meet."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tirta.cli import main
from tirta.network.sensors import make_sensor
from tirta.server.jobs import CompactJob
from tirta.server.writes import SerialStore
from tirta.telemetry.store import open_store
from tirta.telemetry.store.base import Store
from tirta.telemetry.store.pgblocks import (
    BLOCK_READINGS,
    DAY_US,
    block_rows,
    block_times,
    decode_arrays,
    merge,
    occurrences,
    pack,
)
from tirta.telemetry.store.pgcopy import PG_EPOCH_US, Coded

T0 = 1_609_459_200_000_000  # 2021-01-01 UTC in µs
FIVE_MIN = 300_000_000


def coded(rows: list[tuple[int, int, float]], names: int = 3) -> Coded:
    """Coded readings from (code, step of 5 minutes, value) tuples."""
    c, t, v = zip(*rows, strict=True) if rows else ((), (), ())
    return Coded(
        [f"s{i}" for i in range(names)],
        np.array(c, dtype=np.int64),
        T0 + np.array(t, dtype=np.int64) * FIVE_MIN,
        np.array(v, dtype=float),
    )


keys = st.tuples(st.integers(0, 2), st.integers(0, 900))  # 3 sensors, about 3 days of 5-minute steps
values = st.sampled_from([1.0, 2.0, 3.5])


@given(st.lists(st.tuples(keys, values), max_size=60))
def test_pack_sorts_cuts_per_sensor_day_and_keeps_the_first_of_a_repeat(items: list) -> None:
    readings = coded([(c, t, v) for (c, t), v in items])
    blocks = pack(readings)
    first: dict[tuple[int, int], float] = {}
    for (c, t), v in items:
        first.setdefault((c, t), v)
    r = blocks.readings
    got = {
        (int(c), int((t - T0) // FIVE_MIN)): float(v)
        for c, t, v in zip(r.codes, r.time_us, r.value, strict=True)
    }
    assert got == first and blocks.dropped == len(items) - len(first)
    for code, day, lo, hi in zip(blocks.codes, blocks.days, blocks.lo, blocks.hi, strict=True):
        assert (r.codes[lo:hi] == code).all() and (r.time_us[lo:hi] // DAY_US == day).all()
        assert (np.diff(r.time_us[lo:hi]) > 0).all()
    assert len(set(zip(blocks.codes.tolist(), blocks.days.tolist(), strict=True))) == len(blocks)


@given(
    st.dictionaries(keys, values, max_size=60),
    st.dictionaries(keys, values, max_size=60),
)
@settings(max_examples=200)
def test_merge_is_insert_duplicate_or_correction_like_a_dict(stored: dict, batch: dict) -> None:
    # blocks hold whole sensor-days: the stored readings of the batch's days, all of them
    merged = merge(
        coded([(c, t, v) for (c, t), v in stored.items()]),
        coded([(c, t, v) for (c, t), v in batch.items()]),
    )
    inserted = [k for k in batch if k not in stored]
    same = [k for k in batch if k in stored and stored[k] == batch[k]]
    changed = [k for k in batch if k in stored and stored[k] != batch[k]]
    assert (merged.inserted, merged.duplicate, merged.corrected) == (
        len(inserted),
        len(same),
        len(changed),
    )
    old = {
        (int(c), int((t - T0) // FIVE_MIN)): v for c, t, v in zip(*_arrays(merged.replaced), strict=True)
    }
    assert old == {k: stored[k] for k in changed}
    # the blocks written back are whole: every stored and new reading of each touched sensor-day
    after = {**stored, **batch}
    touched = {(c, (T0 + t * FIVE_MIN) // DAY_US) for (c, t) in inserted + changed}
    expect = {k: v for k, v in after.items() if (k[0], (T0 + k[1] * FIVE_MIN) // DAY_US) in touched}
    r = merged.blocks.readings
    got = {
        (int(c), int((t - T0) // FIVE_MIN)): float(v)
        for c, t, v in zip(r.codes, r.time_us, r.value, strict=True)
    }
    assert got == expect


@settings(max_examples=300)
@given(st.lists(st.tuples(keys, values), max_size=60), st.integers(1, 700))
def test_block_rows_are_the_same_bytes_whatever_the_chunk(items: list, chunk: int) -> None:
    blocks = pack(coded([(c, t, v) for (c, t), v in items]))
    whole = list(block_rows(blocks, 10**9))
    parts = list(block_rows(blocks, chunk))
    assert b"".join(d for d, _ in parts) == b"".join(d for d, _ in whole)
    assert sum(n for _, n in parts) == len(blocks.readings)
    assert all(n >= chunk for _, n in parts[:-1])  # each chunk but the last holds at least ``chunk``
    assert len(whole) == (1 if len(blocks) else 0)


@given(st.lists(st.tuples(keys, values), max_size=60))
def test_occurrences_put_each_repeat_of_a_key_in_the_next_part(items: list) -> None:
    parts = occurrences(coded([(c, t, v) for (c, t), v in items]))
    seen: dict[tuple[int, int], list[float]] = {}
    for (c, t), v in items:
        seen.setdefault((c, t), []).append(v)
    got: dict[tuple[int, int], list[float]] = {}
    for part in parts:
        pairs = list(zip(part.codes.tolist(), ((part.time_us - T0) // FIVE_MIN).tolist(), strict=True))
        assert len(set(pairs)) == len(pairs)  # no key twice in a part
        for key, v in zip(pairs, part.value.tolist(), strict=True):
            got.setdefault(key, []).append(v)
    assert got == seen  # every reading, each key's values in input order


# runs of evenly spaced readings (sensor, first step, stride, count): whole days, parts of days and,
# where runs of one sensor meet in a day, uneven ones
runs = st.lists(
    st.tuples(st.integers(0, 2), st.integers(0, 900), st.integers(1, 40), st.integers(1, 30)),
    max_size=6,
)


def _run_readings(items: list[tuple[int, int, int, int]]) -> Coded:
    return coded(
        [(c, first + i * stride, 1.0 + i) for c, first, stride, count in items for i in range(count)]
    )


def _copy_rows(data: bytes) -> list[list[bytes | None]]:
    """The fields of binary COPY rows (without header and trailer); NULL as None."""
    rows, at = [], 0
    while at < len(data):
        count = int(np.frombuffer(data, ">i2", 1, at)[0])
        at += 2
        fields: list[bytes | None] = []
        for _ in range(count):
            size = int(np.frombuffer(data, ">i4", 1, at)[0])
            at += 4
            fields.append(None if size < 0 else data[at : at + size])
            at += max(size, 0)
        rows.append(fields)
    return rows


@given(runs)
def test_blocks_of_evenly_spaced_readings_keep_their_step_not_their_times(items: list) -> None:
    blocks = pack(_run_readings(items))
    r = blocks.readings
    for i in range(len(blocks)):
        times = r.time_us[blocks.lo[i] : blocks.hi[i]]
        gaps = set(np.diff(times).tolist())
        if len(times) == 1:
            assert blocks.step_us[i] == 0
        elif len(gaps) == 1:
            assert blocks.step_us[i] == gaps.pop()
        else:
            assert blocks.step_us[i] == -1


@settings(max_examples=200)
@given(runs)
def test_block_rows_decode_to_the_readings_they_were_built_from(items: list) -> None:
    """What the server receives: per block sensor, day, t0, t1, n, step_us and times (exactly one of
    them NULL) and values; the times read back (as the store reads them) are the readings' times."""
    blocks = pack(_run_readings(items))
    rows = _copy_rows(b"".join(d for d, _ in block_rows(blocks, 50)))
    assert len(rows) == len(blocks)
    r = blocks.readings
    datas, t0, steps, ns, values = [], [], [], [], []
    for i, (sensor, day, first, last, n, step, times, vals) in enumerate(rows):
        assert sensor == r.names[blocks.codes[i]].encode()
        assert int(np.frombuffer(day or b"", ">i4")[0]) == blocks.days[i] - (PG_EPOCH_US // DAY_US)
        assert (step is None) != (times is None)
        assert step is None or int(np.frombuffer(step, ">i8")[0]) == blocks.step_us[i]
        datas.append(times)
        t0.append(int(np.frombuffer(first or b"", ">i8")[0]) + PG_EPOCH_US)
        assert int(np.frombuffer(last or b"", ">i8")[0]) + PG_EPOCH_US == r.time_us[blocks.hi[i] - 1]
        steps.append(-1 if step is None else blocks.step_us[i])
        ns.append(int(np.frombuffer(n or b"", ">i4")[0]))
        values.append(vals or b"")
    got_t = block_times(datas, np.array(t0), np.array(steps), np.array(ns))
    got_v, lengths = decode_arrays(values, "v")
    assert lengths.tolist() == ns
    assert got_t.tolist() == r.time_us.tolist() and got_v.tolist() == r.value.tolist()


@given(
    st.lists(st.sets(st.integers(0, 5), min_size=1), min_size=1, max_size=12),
    st.booleans(),
    st.booleans(),
)
def test_time_major_readings_become_sensor_major_as_by_a_stable_sort(
    rows: list[set[int]], grid: bool, staircase: bool
) -> None:
    """By (time, sensor) in, by (sensor, time) out: a transpose when every step holds the same sensors
    (a grid; with a staircase a step's sensors report at different times), else a sort."""
    from tirta.telemetry.store.postgres.bulk import _time_to_sensor_major

    k_, t_ = [], []
    for step, present in enumerate([rows[0]] * len(rows) if grid else rows):
        for j, code in enumerate(sorted(present)):
            k_.append(code)
            t_.append(step * 10 + (j if staircase else 0))
    k = np.array(k_, dtype=np.int32)
    t = np.array(t_, dtype=np.int64)
    v = np.arange(len(k), dtype=float)
    by = np.argsort(k, kind="stable")
    got_k, got_t, got_v = _time_to_sensor_major(k, t, v, 6)
    assert got_k.tolist() == k[by].tolist()
    assert got_t.tolist() == t[by].tolist() and got_v.tolist() == v[by].tolist()


def test_a_long_span_locks_only_the_windows_with_readings() -> None:
    """Locks are taken in ascending order; over a short span all windows from first to last, over a
    long one only those holding readings (each lock takes shared memory on the server)."""
    from tirta.telemetry.store.postgres import LOCK_DAYS, LOCK_SPAN, PostgresStore

    class Recorder:  # records the lock statements instead of sending them
        def __init__(self) -> None:
            self.windows: list[int] = []

        def execute(self, _sql: str, params: list[int]) -> None:
            self.windows.append(params[1])

    window = DAY_US * LOCK_DAYS
    short, far = Recorder(), Recorder()
    PostgresStore._lock_windows(short, [np.array([5 * window + 1]), np.array([2 * window, 3 * window])])
    assert short.windows == [2, 3, 4, 5]
    ends = np.array([(LOCK_SPAN + 10) * window, window + 5, window])
    PostgresStore._lock_windows(far, [ends])
    assert far.windows == [1, LOCK_SPAN + 10]


def _arrays(c: Coded) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return c.codes, c.time_us, c.value


def test_decode_array_reads_postgres_binary_arrays() -> None:
    times = np.array([T0, T0 + FIVE_MIN], dtype=np.int64)
    header = np.array([1, 0, 1184, 2, 1], dtype=">i4").tobytes()
    elements = np.empty(2, dtype=[("n", ">i4"), ("x", ">i8")])
    elements["n"], elements["x"] = 8, times - PG_EPOCH_US
    assert (decode_arrays([header + elements.tobytes()], "t")[0] == times).all()
    assert len(decode_arrays([np.array([0, 0, 701], dtype=">i4").tobytes()], "v")[0]) == 0


@given(st.lists(st.lists(st.integers(-(10**12), 10**12), max_size=5), max_size=6))
def test_decode_arrays_reads_many_arrays_at_once(arrays: list[list[int]]) -> None:
    def send(values: list[int], kind: str) -> bytes:  # what array_send gives
        if not values:
            return np.array([0, 0, 1184 if kind == "t" else 701], dtype=">i4").tobytes()
        head = np.array([1, 0, 1184 if kind == "t" else 701, len(values), 1], dtype=">i4")
        el = np.empty(len(values), dtype=[("n", ">i4"), ("x", ">i8" if kind == "t" else ">f8")])
        el["n"], el["x"] = 8, values
        return head.tobytes() + el.tobytes()

    for kind in ("t", "v"):
        datas = [send(a, kind) for a in arrays]
        values, lengths = decode_arrays(datas, kind)
        assert lengths.tolist() == [len(a) for a in arrays]
        shift = PG_EPOCH_US if kind == "t" else 0  # times count from 2000-01-01 in PostgreSQL
        assert values.tolist() == [x + shift for a in arrays for x in a]


# --- the PostgreSQL store with blocks ----------------------------------------------------------------
SENSORS = [make_sensor({"id": f"s{i}", "kind": "pressure", "unit": "m"}) for i in range(3)]
TIMES = pd.date_range("2021-01-01", periods=3 * 288, freq="5min", tz="UTC")


def frame(values: float | np.ndarray = 0.0, times: pd.DatetimeIndex = TIMES) -> pd.DataFrame:
    """Readings of s0..s2 at ``times``: value = sensor index + ``values``."""
    n = len(times)
    values = np.broadcast_to(values, n)
    return pd.DataFrame(
        {
            "sensor": np.repeat([s.id for s in SENSORS], n),
            "time": np.tile(times, len(SENSORS)),
            "value": np.repeat(np.arange(len(SENSORS), dtype=float), n) + np.tile(values, len(SENSORS)),
        }
    )


@contextmanager
def blocks_store(url: str, monkeypatch: pytest.MonkeyPatch, block_rows: int) -> Iterator[Store]:
    """The PostgreSQL store at ``url`` with sensors s0..s2, packing batches of ``block_rows`` or more
    readings into blocks."""
    from tirta.telemetry.store.postgres import PostgresStore

    monkeypatch.setattr(PostgresStore, "block_rows", block_rows)
    with open_store(url) as store:
        store.add_sensors(SENSORS)
        yield store


def tables(url: str) -> dict[str, int]:
    """Readings as rows, readings in blocks, and (sensor, time) keys stored more than once."""
    import psycopg

    with psycopg.connect(url) as con:
        rows = con.execute("SELECT count(*) FROM readings").fetchone()[0]
        packed = con.execute("SELECT coalesce(sum(n), 0) FROM blocks").fetchone()[0]
        twice = con.execute(
            "SELECT count(*) FROM all_readings GROUP BY sensor, time HAVING count(*) > 1"
        ).fetchall()
    return {"rows": int(rows), "packed": int(packed), "twice": len(twice)}


@pytest.mark.service
def test_bulk_loads_land_in_blocks_and_read_back_like_rows(
    postgres_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:

    with blocks_store(postgres_db, monkeypatch, 1000) as store:
        wave = np.sin(np.arange(len(TIMES)) / 20.0)
        first = store.write(frame(wave), source="file")  # 2,592 readings: a bulk batch
        assert first.inserted == 3 * len(TIMES)
    assert tables(postgres_db) == {"rows": 0, "packed": 3 * len(TIMES), "twice": 0}
    import psycopg

    with psycopg.connect(postgres_db) as con:  # a bulk load adds no (empty) monthly partitions
        assert con.execute("SELECT count(*) FROM pg_inherits").fetchone()[0] == 0
    with open_store(postgres_db) as store:
        wide = store.read(["s2", "s0"], TIMES[0], TIMES[-1] + pd.Timedelta("5min"))
        assert wide.shape == (len(TIMES), 2)
        assert np.allclose(wide["s2"].to_numpy(), 2 + wave) and np.allclose(wide["s0"], wave)
        # a window inside one day, and hourly means, minima and counts computed from the blocks
        part = store.read(["s1"], "2021-01-02 10:02", "2021-01-02 11:00")
        assert len(part) == 11 and part.index[0] == pd.Timestamp("2021-01-02 10:05", tz="UTC")
        hourly = store.read(["s1"], TIMES[0], TIMES[-1], every="1h")
        expect = (1 + pd.Series(wave, index=TIMES)).loc[: TIMES[-1] - pd.Timedelta("1ns")]
        expect = expect.resample("1h").mean()
        assert np.allclose(hourly["s1"].to_numpy(), expect.to_numpy())
        count = store.read(["s1"], TIMES[0], TIMES[-1] + pd.Timedelta("5min"), every="1d", agg="count")
        assert count["s1"].tolist() == [288.0] * 3
        # resent: duplicates; two values changed: corrections with their history
        again = store.write(frame(wave), source="file")
        assert (again.inserted, again.duplicate, again.corrected) == (0, 3 * len(TIMES), 0)
        fix = pd.DataFrame(
            {"sensor": ["s0", "s0", "s1"], "time": TIMES[[5, 6, 7]], "value": [9.0, wave[6], 8.0]}
        )
        fixed = store.write(fix, source="crew")
        assert (fixed.inserted, fixed.duplicate, fixed.corrected) == (0, 1, 2)
        history = store.corrections()
        assert sorted(history["replaced_by"]) == ["crew", "crew"]
        assert np.isclose(history.set_index("sensor").loc["s0", "value"], wave[5])
        assert store.read(["s0"], TIMES[5], TIMES[6])["s0"].iloc[0] == 9.0
        assert store.counts()["readings"] == 3 * len(TIMES)
    assert tables(postgres_db)["twice"] == 0


@pytest.mark.service
@pytest.mark.parametrize("order", ["by time", "by sensor", "shuffled"])
def test_bulk_ingest_packs_the_same_blocks_whatever_the_order_of_the_file(
    postgres_db: str, order: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Time-major files are sorted by a stable sort on the sensor alone, sensor-major ones not at all,
    others by DuckDB: each gives the same blocks, in time order, with every reading."""
    from tirta.telemetry.store.postgres import PostgresStore

    monkeypatch.setattr(PostgresStore, "bulk_rows", 100)
    monkeypatch.setattr(PostgresStore, "block_rows", 100)
    raw = frame(np.cos(np.arange(len(TIMES)) / 7.0)).assign(unit="m")
    if order == "by time":
        raw = raw.sort_values(["time", "sensor"], kind="stable")
    elif order == "shuffled":
        raw = raw.sample(frac=1.0, random_state=3)
    raw = raw.assign(time=raw["time"].map(lambda t: t.isoformat()))  # as text, like a CSV
    with open_store(postgres_db) as store:
        store.add_sensors(SENSORS)
        got = store.ingest(raw, source="file", now=pd.Timestamp("2022-01-01", tz="UTC"))
        assert (got.accepted, got.duplicate, got.quarantined) == (len(raw), 0, 0)
        wide = store.read(["s0", "s1", "s2"], TIMES[0], TIMES[-1] + pd.Timedelta("5min"))
    assert tables(postgres_db) == {"rows": 0, "packed": len(raw), "twice": 0}
    expect = frame(np.cos(np.arange(len(TIMES)) / 7.0))
    for i, s in enumerate(["s0", "s1", "s2"]):
        assert np.allclose(
            wide[s].to_numpy(), expect["value"].to_numpy()[i * len(TIMES) : (i + 1) * len(TIMES)]
        )
    import psycopg

    with psycopg.connect(postgres_db) as con:  # whole 5-minute days: the step, no list of times
        bad = con.execute(
            "SELECT count(*) FROM blocks WHERE n <> 288 OR times IS NOT NULL "
            "OR step_us <> 300000000 OR t1 - t0 <> interval '23 hours 55 minutes'"
        ).fetchone()[0]
    assert bad == 0


@pytest.mark.service
def test_live_rows_compact_into_blocks_and_late_readings_merge(postgres_db: str) -> None:
    with open_store(postgres_db) as store:
        store.add_sensors(SENSORS)
        live = frame()
        for lo in range(0, len(live), 500):  # small batches: rows
            store.write(live.iloc[lo : lo + 500], source="mqtt")
        assert tables(postgres_db)["rows"] == len(live)
        before = store.read(["s0", "s1", "s2"], TIMES[0], TIMES[-1], every="1h", agg="max")
        moved = store.compact("2021-01-03 07:00")  # the two whole days before it
        assert moved == 2 * 288 * 3
        assert tables(postgres_db) == {"rows": 288 * 3, "packed": 2 * 288 * 3, "twice": 0}
        after = store.read(["s0", "s1", "s2"], TIMES[0], TIMES[-1], every="1h", agg="max")
        pd.testing.assert_frame_equal(before, after)
        # a late reading for a packed day is merged into its block, a resent one is a duplicate
        late = pd.DataFrame(
            {"sensor": ["s1"], "time": [TIMES[3] + pd.Timedelta("1min")], "value": [5.0]}
        )
        assert store.write(late, source="late").inserted == 1
        assert store.write(late, source="late").duplicate == 1
        assert tables(postgres_db) == {"rows": 288 * 3, "packed": 2 * 288 * 3 + 1, "twice": 0}
        assert store.read(["s1"], TIMES[3], TIMES[4])["s1"].tolist() == [1.0, 5.0]
        # quality flags mask readings in blocks as in rows
        store.add_flags(
            pd.DataFrame(
                {
                    "sensor": ["s2"],
                    "start": [TIMES[10]],
                    "end": [TIMES[20]],
                    "kind": ["stuck"],
                    "detail": [""],
                }
            )
        )
        clean = store.read(["s2"], TIMES[0], TIMES[30], clean=True)["s2"]
        assert clean.isna().sum() == 11 and clean.iloc[9] == 2.0
        assert store.read(["s2"], TIMES[0], TIMES[24], every="1h", clean=True)["s2"].tolist() == [
            2.0,
            2.0,
        ]
        # retention: whole days of blocks go, their rollups stay
        deleted = store.prune(keep_days=1, now="2021-01-03 12:00")
        assert deleted == 288 * 3 + 1
        assert store.span()[0] == pd.Timestamp("2021-01-02", tz="UTC")
        daily = store.read(["s0"], TIMES[0], TIMES[-1], every="1d")
        assert daily["s0"].tolist() == [0.0, 0.0, 0.0]


@pytest.mark.service
def test_concurrent_bulk_row_writers_and_compaction_store_each_key_once(
    postgres_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bulk writers packing blocks, small writers adding rows and a compaction all at once on the same
    sensor-days: the write locks keep every (sensor, time) in one table, once."""
    from tirta.telemetry.store.postgres import PostgresStore

    monkeypatch.setattr(PostgresStore, "block_rows", 300)
    with open_store(postgres_db) as store:
        store.add_sensors(SENSORS)
    data = frame()
    rng = np.random.default_rng(7)
    errors: list[BaseException] = []
    go = threading.Barrier(5)

    def writer(batch: int, seed: int) -> None:
        try:
            order = np.random.default_rng(seed).permutation(len(data))
            with open_store(postgres_db) as s:
                go.wait()
                for lo in range(0, len(order), batch):
                    s.write(data.iloc[order[lo : lo + batch]], source=f"w{seed}")
        except BaseException as exc:  # reported below
            errors.append(exc)

    def compactor() -> None:
        try:
            with open_store(postgres_db) as s:
                go.wait()
                for day in ("2021-01-02", "2021-01-03", "2021-01-04"):
                    s.compact(day)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(b, int(rng.integers(1 << 30)))) for b in (400, 350)]
    threads += [threading.Thread(target=writer, args=(b, int(rng.integers(1 << 30)))) for b in (7, 50)]
    threads.append(threading.Thread(target=compactor))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    got = tables(postgres_db)
    assert got["twice"] == 0 and got["rows"] + got["packed"] == len(data)
    with open_store(postgres_db) as store:
        wide = store.read(["s0", "s1", "s2"], TIMES[0], TIMES[-1] + pd.Timedelta("5min"))
        assert wide.notna().all().all() and (wide.to_numpy() == np.arange(3)).all()
        assert store.corrections().empty


@pytest.mark.service
def test_compaction_from_the_cli_and_the_nightly_job(
    postgres_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with open_store(postgres_db) as store:
        store.add_sensors(SENSORS)
        store.write(frame(), source="mqtt")  # 2,592 readings as rows
    with pytest.raises(SystemExit) as done:
        main(["readings", "compact", "--store", postgres_db, "--keep-days", "1"])
    assert done.value.code in (0, None)
    assert capsys.readouterr().out.strip() == "864 readings packed into blocks (days before 2021-01-02)"
    with open_store(postgres_db) as store:
        job = CompactJob(SerialStore(store), lambda: pd.Timestamp("2021-01-04 02:30", tz="UTC"))
        assert job() == {"before": "2021-01-02T00:00:00+00:00", "moved": 0}
        job.keep_days = 0
        assert job()["moved"] == 2 * 864
        assert job.store.writes == 2  # through the serve process's single writer
    assert tables(postgres_db) == {"rows": 0, "packed": 3 * 864, "twice": 0}
    duck = f"duckdb://{tmp_path}/s.duckdb"
    open_store(duck).close()
    with pytest.raises(SystemExit) as done:
        main(["readings", "compact", "--store", duck])
    assert done.value.code == 2 and "DuckDB stores readings by column" in capsys.readouterr().err


@pytest.mark.service
def test_opening_a_store_does_not_wait_for_running_queries(postgres_db: str) -> None:
    """The one-time ALTER TABLEs on blocks are skipped once done: a second process opening the store
    while a long query holds the table does not queue behind it (and block everyone after it)."""
    import psycopg

    open_store(postgres_db).close()
    opened = threading.Event()
    with psycopg.connect(postgres_db) as reader:
        reader.execute("SELECT count(*) FROM blocks")  # the transaction stays open, holding its lock
        thread = threading.Thread(target=lambda: (open_store(postgres_db).close(), opened.set()))
        thread.start()
        thread.join(timeout=30)
        assert opened.is_set()
        reader.rollback()


@pytest.mark.service
def test_rows_are_partitioned_by_month_without_blocking_readers(postgres_db: str) -> None:
    """Without TimescaleDB the readings table is partitioned by month; a partition is added when the
    first reading of its month arrives, while another session keeps reading."""
    import psycopg

    with open_store(postgres_db) as store:
        store.add_sensors(SENSORS)
        assert store.partitioned and not store.timescale
        store.write(frame(times=TIMES[:10]), source="live")
        with psycopg.connect(postgres_db) as reader:
            reader.execute("SELECT count(*) FROM readings")  # holds its lock until rollback
            later = pd.date_range("2021-02-28 23:00", periods=36, freq="5min", tz="UTC")
            assert store.write(frame(times=later), source="live").inserted == 3 * 36
            reader.rollback()
        wide = store.read(["s0", "s1"], "2021-01-01", "2021-03-02")
        assert wide.notna().sum().tolist() == [46, 46]
    with psycopg.connect(postgres_db) as con:
        parts = con.execute(
            "SELECT c.relname, count(r.*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "LEFT JOIN readings r ON r.tableoid = c.oid WHERE i.inhparent = 'readings'::regclass "
            "GROUP BY 1 ORDER BY 1"
        ).fetchall()
        keys = con.execute(
            "SELECT count(*) FROM pg_indexes WHERE tablename LIKE 'readings_p%' AND indexdef LIKE "
            "'%UNIQUE%(\"time\", sensor)%'"
        ).fetchone()[0]
    assert parts == [("readings_p202101", 30), ("readings_p202102", 36), ("readings_p202103", 72)]
    assert keys == 3


@pytest.mark.service
def test_a_cut_inside_a_block_keeps_its_later_readings(
    postgres_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``prune`` cuts at midnight, between blocks; a cut inside a day (the store's own retention step
    called directly) deletes the block's earlier readings and keeps the later ones as rows."""
    from tirta.telemetry.store.postgres import PostgresStore

    with blocks_store(postgres_db, monkeypatch, 1) as store:
        store.write(frame(), source="file")
        assert isinstance(store, PostgresStore)
        deleted = store._prune(pd.Timestamp("2021-01-02 12:00", tz="UTC"))
        assert deleted == 3 * (288 + 144)
        assert tables(postgres_db) == {"rows": 3 * 144, "packed": 3 * 288, "twice": 0}
        assert store.span() == (pd.Timestamp("2021-01-02 12:00", tz="UTC"), TIMES[-1])
        assert store.counts()["readings"] == 3 * (288 + 144)


@pytest.mark.service
def test_blocks_list_their_times_only_when_not_evenly_spaced(
    postgres_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A whole 5-minute day keeps its step, a day with a gap and a late reading its list of times, a
    lone reading step 0; SQL over the table (as rollups and compaction read it) and the store's reads
    see the same readings."""
    import psycopg

    from tirta.telemetry.store.postgres import PostgresStore

    monkeypatch.setattr(PostgresStore, "block_rows", 1)
    keep = np.ones(len(TIMES), dtype=bool)
    keep[288 + 100] = False  # a gap on the second day
    keep[2 * 288 + 1 :] = False  # one reading on the third
    with open_store(postgres_db) as store:
        store.add_sensors(SENSORS)
        store.write(frame(np.arange(int(keep.sum())) / 7.0, TIMES[keep]), source="file")
        late = pd.DataFrame(
            {"sensor": ["s1"], "time": [TIMES[3] + pd.Timedelta("1min")], "value": [5.0]}
        )
        assert store.write(late, source="late").inserted == 1  # merged into an even block: uneven
        read = store.read(["s0", "s1", "s2"], TIMES[0], TIMES[-1] + pd.Timedelta("5min"))
    with psycopg.connect(postgres_db) as con:
        kinds = con.execute(
            "SELECT sensor, day - date '2021-01-01', step_us, times IS NULL FROM blocks ORDER BY 1, 2"
        ).fetchall()
        rows = con.execute(
            f"SELECT b.sensor, u.time, u.value FROM blocks b CROSS JOIN LATERAL {BLOCK_READINGS} "
            "ORDER BY 1, 2"
        ).fetchall()
    spaced = {(s, d): (step, listed) for s, d, step, listed in kinds}
    assert spaced[("s0", 0)] == (FIVE_MIN, True) and spaced[("s2", 0)] == (FIVE_MIN, True)
    assert spaced[("s1", 0)] == (None, False)  # the late reading
    assert spaced[("s0", 1)] == (None, False)  # the gap
    assert spaced[("s0", 2)] == (0, True)  # one reading
    long = read.stack().dropna().rename("value").reset_index()
    long.columns = ["time", "sensor", "value"]
    long = long.sort_values(["sensor", "time"], ignore_index=True)
    assert len(rows) == len(long) == 3 * (288 + 287 + 1) + 1
    assert [r[0] for r in rows] == long["sensor"].tolist()
    assert [pd.Timestamp(r[1]) for r in rows] == long["time"].tolist()
    assert np.allclose([r[2] for r in rows], long["value"].to_numpy())


@pytest.mark.service
def test_blocks_of_an_older_tirta_gain_the_step_column_and_stay_readable(
    postgres_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    with psycopg.connect(postgres_db) as con:  # the table as tirta made it before steps
        con.execute(
            'CREATE TABLE blocks (sensor text COLLATE "C" NOT NULL, day date NOT NULL, '
            "t0 timestamptz NOT NULL, t1 timestamptz NOT NULL, n integer NOT NULL, "
            "times timestamptz[] NOT NULL, vals double precision[] NOT NULL, PRIMARY KEY (sensor, day))"
        )
        con.execute(
            "INSERT INTO blocks VALUES ('s0', '2021-01-01', %s, %s, 2, %s, ARRAY[7.0, 8.0])",
            [TIMES[0], TIMES[2], [TIMES[0], TIMES[2]]],
        )
    with blocks_store(postgres_db, monkeypatch, 1) as store:
        assert store.read(["s0"], TIMES[0], TIMES[3])["s0"].tolist() == [7.0, 8.0]
        got = store.write(frame(), source="file")  # merged with the old block, and new days
        assert (got.inserted, got.duplicate, got.corrected) == (3 * len(TIMES) - 2, 0, 2)
        assert store.read(["s0"], TIMES[0], TIMES[3])["s0"].tolist() == [0.0, 0.0, 0.0]
    assert tables(postgres_db) == {"rows": 0, "packed": 3 * len(TIMES), "twice": 0}
    with psycopg.connect(postgres_db) as con:
        assert con.execute("SELECT count(*) FROM blocks WHERE step_us IS NULL").fetchone()[0] == 0


@pytest.mark.service
def test_the_all_readings_view_shows_rows_and_blocks_as_one_table(
    postgres_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """For psql and GIS users: every reading, whether kept as a row or in a block, in one view."""
    import psycopg

    with blocks_store(postgres_db, monkeypatch, 500) as store:
        store.write(frame(1.5, TIMES[:288]), source="file")  # a bulk load: blocks
        store.write(frame(2.5, TIMES[288:290]), source="mqtt")  # a small batch: rows
    assert tables(postgres_db)["rows"] == 6
    with psycopg.connect(postgres_db) as con:
        got = con.execute(
            "SELECT sensor, count(*), min(time), max(time), sum(value) FROM all_readings "
            "GROUP BY sensor ORDER BY sensor"
        ).fetchall()
    assert [(s, n) for s, n, *_ in got] == [("s0", 290), ("s1", 290), ("s2", 290)]
    assert all(lo == TIMES[0] and hi == TIMES[289] for _, _, lo, hi, _ in got)
    assert [round(total, 6) for *_, total in got] == [
        round(i * 290 + 1.5 * 288 + 2.5 * 2, 6) for i in range(3)
    ]


@pytest.mark.service
def test_compaction_keeps_the_step_of_evenly_spaced_days(postgres_db: str) -> None:
    """Live rows packed by ``compact`` get the same form as bulk loads: a whole 5-minute day its step,
    a day with an off-grid reading its list of times, a lone reading step 0."""
    import psycopg

    with open_store(postgres_db) as store:
        store.add_sensors(SENSORS)
        store.write(frame(0.5, TIMES[:288]), source="mqtt")  # day 1, every sensor: rows
        odd = pd.DataFrame(
            {
                "sensor": ["s0", "s1"],
                "time": [TIMES[290] + pd.Timedelta("1min"), TIMES[300]],
                "value": [7.0, 8.0],
            }
        )
        store.write(pd.concat([frame(0.5, TIMES[288:300]), odd.iloc[:1]]), source="mqtt")
        store.write(odd.iloc[1:].assign(time=[TIMES[2 * 288]]), source="mqtt")  # one on day 3
        before = store.read(["s0", "s1", "s2"], TIMES[0], TIMES[-1] + pd.Timedelta("5min"))
        assert store.compact("2021-01-04") == 3 * 288 + 3 * 12 + 2
        after = store.read(["s0", "s1", "s2"], TIMES[0], TIMES[-1] + pd.Timedelta("5min"))
        pd.testing.assert_frame_equal(before, after)
    assert tables(postgres_db) == {"rows": 0, "packed": 3 * 288 + 3 * 12 + 2, "twice": 0}
    with psycopg.connect(postgres_db) as con:
        kinds = dict(
            ((s, d), (step, listed))
            for s, d, step, listed in con.execute(
                "SELECT sensor, day - date '2021-01-01', step_us, times IS NOT NULL FROM blocks"
            ).fetchall()
        )
    assert kinds[("s2", 0)] == (FIVE_MIN, False) and kinds[("s2", 1)] == (FIVE_MIN, False)
    assert kinds[("s0", 1)] == (None, True)  # the off-grid reading
    assert kinds[("s1", 2)] == (0, False)  # a lone reading
