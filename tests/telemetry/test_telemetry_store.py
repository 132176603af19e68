"""The store contract, run against DuckDB and a real PostgreSQL 15 server (``store`` is parametrised)."""

from __future__ import annotations

import subprocess
import sys
import threading
from dataclasses import replace
from datetime import UTC
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tirta.errors import InputError, StoreError
from tirta.network.sensors import Sensor, make_sensor
from tirta.telemetry.ingest import ingest_records
from tirta.telemetry.store import Batch, Store, open_store

NOW = pd.Timestamp("2021-01-01", tz="UTC")
LATER = pd.Timestamp("2022-01-01", tz="UTC")


def readings(sensor: str, start: str, values: list[float], freq: str = "5min") -> pd.DataFrame:
    times = pd.date_range(start, periods=len(values), freq=freq, tz="UTC")
    return pd.DataFrame({"sensor": sensor, "time": times, "value": values})


def test_sensors_round_trip(store: Store, sensors: list[Sensor]) -> None:
    assert store.add_sensors(sensors) == 4
    assert store.add_sensors(sensors) == 0  # already there
    reg = store.sensors()
    assert [s.id for s in reg] == sorted(s.id for s in sensors)
    for s in sensors:  # the store gives installation times back in UTC
        installed = None if s.installed is None else s.installed.replace(tzinfo=UTC)
        assert reg[s.id] == replace(s, installed=installed)
    changed = make_sensor({"id": "n4", "kind": "pressure", "unit": "kPa", "max": 80})
    assert store.add_sensors([changed], replace=True) == 1
    assert store.sensors()["n4"].unit == "kPa" and store.sensors()["n4"].valid_max == 80


def test_writes_are_idempotent_and_corrections_keep_history(registered: Store) -> None:
    first = registered.write(readings("n1", "2020-12-18", [30.0, 31.0, 32.0]), source="a")
    assert (first.inserted, first.duplicate, first.corrected) == (3, 0, 0)
    again = registered.write(readings("n1", "2020-12-18", [30.0, 31.0, 32.0]), source="a")
    assert (again.inserted, again.duplicate, again.corrected) == (0, 3, 0)
    fixed = registered.write(readings("n1", "2020-12-18", [30.0, 35.0, 32.0, 33.0]), source="b")
    assert (fixed.inserted, fixed.duplicate, fixed.corrected) == (1, 2, 1)
    assert registered.counts()["readings"] == 4
    wide = registered.read(["n1"], "2020-12-18", "2020-12-19")
    assert wide["n1"].tolist() == [30.0, 35.0, 32.0, 33.0]
    history = registered.corrections("n1")
    assert len(history) == 1
    row = history.iloc[0]
    assert row["value"] == 31.0 and row["replaced_by"] == "b"
    assert row["time"] == pd.Timestamp("2020-12-18 00:05", tz="UTC")


def test_a_reading_corrected_within_a_batch_counts_as_across_batches(registered: Store) -> None:
    """A stream batches messages as load allows: a value changed within one batch must give what
    two batches give (the last value, the one before in the history), whatever the batching."""
    sent = [("00:00", 30.0), ("00:00", 31.0), ("00:05", 32.0), ("00:00", 31.0), ("00:05", 33.0)]
    raw = pd.DataFrame(
        [{"sensor": "n1", "time": f"2020-12-18T{t}Z", "value": v, "unit": "m"} for t, v in sent]
    )
    got = ingest_records(registered, raw, source="mqtt", now=NOW)
    assert (got.accepted, got.corrected, got.duplicate, got.quarantined) == (4, 2, 1, 0)
    assert registered.read(["n1"], "2020-12-18", "2020-12-19")["n1"].tolist() == [31.0, 33.0]
    history = registered.corrections("n1").sort_values("time")
    assert history["value"].tolist() == [30.0, 32.0]
    assert set(history["replaced_by"]) == {"mqtt"}
    assert registered.counts()["readings"] == 2


def test_read_gives_a_wide_utc_frame_in_the_order_asked(registered: Store) -> None:
    registered.write(readings("n1", "2020-12-18", [1.0, 2.0, 3.0]), source="t")
    registered.write(readings("p227", "2020-12-18 00:05", [0.5, 0.6]), source="t")
    wide = registered.read(["p227", "n1", "n4"], "2020-12-18 00:00", "2020-12-18 00:10")
    assert list(wide.columns) == ["p227", "n1", "n4"]
    assert str(wide.index.tz) == "UTC" and wide.index.name == "time"
    assert len(wide) == 2  # the end is exclusive
    assert np.isnan(wide.loc["2020-12-18 00:00", "p227"]) and wide["n4"].isna().all()
    empty = registered.read(["n1"], "2030-01-01", "2030-01-02")
    assert empty.empty and list(empty.columns) == ["n1"]


@pytest.mark.parametrize(("every", "rule"), [("5min", "5min"), ("1h", "1h"), ("1d", "1D")])
@pytest.mark.parametrize("agg", ["mean", "min", "max"])
def test_resampling_matches_pandas(registered: Store, every: str, rule: str, agg: str) -> None:
    rng = np.random.default_rng(7)
    times = pd.date_range("2020-12-17 22:00", "2020-12-19 03:00", freq="1min", tz="UTC")
    frame = pd.DataFrame(
        {"n1": rng.uniform(20, 60, len(times)), "p227": rng.uniform(0, 1, len(times))}, times
    )
    long = frame.stack().rename_axis(["time", "sensor"]).rename("value").reset_index()
    registered.write(long, source="t")
    got = registered.read(["n1", "p227"], "2020-12-18", "2020-12-19", every=every, agg=agg)
    window = frame.loc["2020-12-18":"2020-12-18 23:59:59"]
    expected = getattr(window.resample(rule), agg)()
    assert len(got) == len(expected)
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-12)
    assert (got.index == expected.index).all()


def test_bad_read_arguments_are_input_errors(registered: Store) -> None:
    with pytest.raises(InputError):
        registered.read(["n1"], "2020-12-18", "2020-12-19", every="7min")
    with pytest.raises(InputError):
        registered.read(["n1"], "2020-12-18", "2020-12-19", every="1h", agg="median")
    with pytest.raises(InputError):
        registered.read(["n1"], "not a date", "2020-12-19")


def test_sensor_id_with_sql_is_quarantined_and_nothing_breaks(registered: Store) -> None:
    evil = "n1'); DROP TABLE readings; --"
    records = [
        {"sensor": "n1", "time": "2020-12-18 00:00", "value": 30.0, "unit": "m"},
        {"sensor": evil, "time": "2020-12-18 00:00", "value": 1.0, "unit": "m"},
        {
            "sensor": 'x" OR 1=1; DELETE FROM sensors; --\x00',
            "time": "2020-12-18",
            "value": 1,
            "unit": "m",
        },
    ]
    result = ingest_records(registered, records, source="http:client'1", now=NOW)
    assert (result.accepted, result.quarantined) == (1, 2)
    assert result.reasons == {"unknown sensor": 2}
    counts = registered.counts()
    assert counts["readings"] == 1 and counts["sensors"] == 4 and counts["quarantine"] == 2
    q = registered.quarantined()
    assert evil in set(q["sensor"]) and set(q["source"]) == {"http:client'1"}
    assert registered.read([evil, "n1"], "2020-12-18", "2020-12-19")[evil].isna().all()


def test_quarantine_keeps_payload_and_counts_resends_once(registered: Store) -> None:
    records = [
        {"sensor": "n1", "time": "2099-01-01 00:00", "value": 30.0, "unit": "m"},
        {"sensor": "p227", "time": "2020-12-18 00:00", "value": 3.0, "unit": "kPa"},
    ]
    first = ingest_records(registered, records, source="file:x.csv", now=NOW)
    assert first.reasons == {"future": 1, "unit not convertible": 1}
    again = ingest_records(registered, records, source="file:x.csv", now=NOW)
    assert again.quarantined == 2
    q = registered.quarantined().set_index("reason")
    assert len(q) == 2 and q["times_seen"].tolist() == [2, 2]
    assert '"2099-01-01 00:00"' in q.loc["future", "payload"]
    assert "kPa" in q.loc["unit not convertible", "detail"]


def test_quarantine_pages_in_a_stable_order(registered: Store) -> None:
    """Rows of one batch tie on their times: pages still never repeat or skip a row."""
    records = [
        {"sensor": f"x{i % 7}", "time": "2020-12-18 00:00", "value": i, "unit": "m"} for i in range(23)
    ]
    ingest_records(registered, records, source="file:many.csv", now=NOW)
    everything = registered.quarantined()
    pages = [registered.quarantined(limit=5, offset=k) for k in range(0, 25, 5)]
    paged = pd.concat(pages, ignore_index=True)
    assert len(everything) == 23 and paged["payload"].tolist() == everything["payload"].tolist()
    expected = everything.sort_values(
        ["last_seen", "received_at", "source", "sensor", "payload", "reason"],
        ascending=False,
        kind="mergesort",
    )
    assert everything["payload"].tolist() == expected["payload"].tolist()


def test_small_writes_from_many_threads_are_batched_and_all_committed(registered: Store) -> None:
    results = []
    lock = threading.Lock()

    def send(k: int) -> None:
        batch = readings("n1", "2020-12-18", [float(k % 50)] * 1)
        batch["time"] = batch["time"] + pd.Timedelta(minutes=5 * (k % 50))
        got = registered.write(batch, source=f"mqtt:{k}")
        with lock:
            results.append(got)

    threads = [threading.Thread(target=send, args=(k,)) for k in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.inserted for r in results) == 50
    assert sum(r.duplicate for r in results) == 50
    assert registered.counts()["readings"] == 50


def test_submit_resolves_after_commit(registered: Store) -> None:
    future = registered.submit(Batch(readings("n1", "2020-12-18", [1.0, 2.0]), None, "mqtt"))
    assert future.result(timeout=10).inserted == 2
    registered.close()
    with open_store(registered.url) as again:
        assert again.counts()["readings"] == 2


def test_an_exception_during_a_bulk_load_rolls_everything_back(registered: Store) -> None:
    n = 30_000
    times = pd.date_range("2020-12-18", periods=n, freq="min", tz="UTC")
    bulk = pd.DataFrame({"sensor": "n1", "time": times, "value": 40.0})
    registered.write(bulk.iloc[:10], source="before")
    bad = [{"sensor": "nX", "time": "2020-12-18", "value": 1, "unit": "m"}]
    calls = []

    def crash(done: int, total: int) -> None:
        calls.append(done)
        if done > 0:
            raise KeyboardInterrupt("operator pressed Ctrl-C")

    records = bulk.assign(unit="m", value=41.0)
    records = pd.concat([records, pd.DataFrame(bad)], ignore_index=True)
    with pytest.raises(KeyboardInterrupt):
        ingest_records(registered, records, source="crash", now=LATER, progress=crash)
    counts = registered.counts()
    assert counts["readings"] == 10 and counts["reading_history"] == 0 and counts["quarantine"] == 0
    assert registered.read(["n1"], "2020-12-18", "2020-12-19")["n1"].eq(40.0).all()
    done = ingest_records(registered, records, source="retry", now=LATER)
    assert (done.accepted, done.corrected, done.quarantined) == (n, 10, 1)


def test_events_and_their_history(store: Store) -> None:
    candidates = [{"pipe": "p257", "score": 0.8}, {"pipe": "p427", "score": 0.1}]
    eid = store.add_event(
        detected_at="2020-12-20 10:00",
        start="2020-12-19 22:00",
        size_lps=3.2,
        candidates=candidates,
        dma="A",
    )
    other = store.add_event(detected_at="2020-12-21 10:00")
    store.set_event_status(eid, "acknowledged", who="ana", note="crew informed", at="2020-12-20 11:00")
    events = store.events()
    assert events["id"].tolist() == [other, eid]
    row = events.set_index("id").loc[eid]
    assert row["status"] == "acknowledged" and row["candidates"] == candidates and row["size_lps"] == 3.2
    assert row["detected_at"] == pd.Timestamp("2020-12-20 10:00", tz="UTC")
    assert store.events("open")["id"].tolist() == [other]
    history = store.event_history(eid)
    assert history["status"].tolist() == ["open", "acknowledged"]
    assert history["who"].tolist() == ["tirta", "ana"] and history["note"].iloc[1] == "crew informed"
    with pytest.raises(InputError):
        store.set_event_status(eid, "exploded", who="x")
    with pytest.raises(StoreError):
        store.set_event_status(9999, "closed", who="x")
    # compare and set: of two operators who both saw it acknowledged, only the first moves it
    store.set_event_status(eid, "dispatched", who="ana", expected="acknowledged")
    with pytest.raises(InputError, match="is now 'dispatched'"):
        store.set_event_status(eid, "false_alarm", who="budi", expected="acknowledged")
    assert store.event_history(eid)["status"].tolist() == ["open", "acknowledged", "dispatched"]
    # a note with status None keeps the status the event has now (new estimates from a stale read)
    store.set_event_status(eid, None, who="tirta", note="[update] {}")
    assert store.events().set_index("id").loc[eid, "status"] == "dispatched"
    assert store.event_history(eid)["status"].tolist()[-1] == "dispatched"


def test_closed_store_refuses_work(store: Store) -> None:
    store.close()
    with pytest.raises(StoreError):
        store.sensors()


def test_locked_duckdb_file_names_the_file_and_the_owner(tmp_path: Path) -> None:
    path = tmp_path / "owned.duckdb"
    open_store(f"duckdb://{path}").close()
    code = f"import duckdb, sys, time; c = duckdb.connect({str(path)!r}); print('ready', flush=True); time.sleep(60)"
    owner = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout is not None and owner.stdout.readline().strip() == "ready"
        with pytest.raises(StoreError) as err:
            open_store(f"duckdb://{path}")
        text = str(err.value)
        assert str(path) in text and "tirta serve" in text and f"PID {owner.pid}" in text
    finally:
        owner.kill()
        owner.wait()


@pytest.mark.service
def test_unreachable_postgres_is_a_store_error() -> None:
    with pytest.raises(StoreError) as err:
        open_store("postgresql://nobody:secret@127.0.0.1:1/nothing")
    assert "secret" not in str(err.value) and "127.0.0.1:1" in str(err.value)


def test_unknown_store_scheme_is_an_input_error() -> None:
    with pytest.raises(InputError):
        open_store("mysql://root@localhost/db")


def test_readers_on_other_threads_while_writes_commit(registered: Store) -> None:
    """The dashboard asks for the data's "now" (``span``) and reads while ingestion commits: readers
    use connections of their own, never the writer's (DuckDB refuses a busy connection)."""
    errors: list[BaseException] = []
    done = threading.Event()

    def reader() -> None:
        try:
            while not done.is_set():
                registered.span()
                registered.read(["n1"], "2021-01-01", "2021-01-02")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for i in range(150):
            t0 = pd.Timestamp("2021-01-01", tz="UTC") + pd.Timedelta(minutes=5 * i)
            registered.write(
                pd.DataFrame({"sensor": ["n1"], "time": [t0], "value": [float(i)]}), source="x"
            )
    finally:
        done.set()
        for t in threads:
            t.join()
    assert not errors, errors[0]
    assert registered.span() == (
        pd.Timestamp("2021-01-01", tz="UTC"),
        pd.Timestamp("2021-01-01 12:25", tz="UTC"),
    )


@pytest.mark.service
@pytest.mark.parametrize("rows", [1, 20_000])  # a small batch (writer thread) and a bulk one
def test_a_sensor_another_process_registered_counts_once_the_registry_is_read_again(
    postgres_db: str, monkeypatch: pytest.MonkeyPatch, rows: int
) -> None:
    """A PostgreSQL store is shared: ingesters, ``tirta serve`` and the command line each register
    sensors. A batch naming a sensor this process does not know reads the registry again (at most
    every ``registry_recheck_s``), so a sensor registered elsewhere counts without a restart."""
    from tirta.telemetry.store.postgres import PostgresStore

    t = pd.date_range("2024-01-01", periods=rows, freq="1min", tz="UTC")
    raw = pd.DataFrame({"sensor": "new1", "time": t.astype(str), "value": 30.0, "unit": "m"})
    with open_store(postgres_db) as mine, open_store(postgres_db) as other:
        mine.add_sensors([make_sensor({"id": "old1", "kind": "pressure", "unit": "m"})])
        assert len(mine.sensors()) == 1  # read now, cached
        other.add_sensors([make_sensor({"id": "new1", "kind": "pressure", "unit": "m"})])
        monkeypatch.setattr(PostgresStore, "registry_recheck_s", None)  # never read again
        assert ingest_records(mine, raw.head(1), source="t").quarantined == 1
        monkeypatch.setattr(PostgresStore, "registry_recheck_s", 0.0)
        got = ingest_records(mine, raw, source="t")
        assert (got.accepted, got.quarantined) == (rows, 0)
