"""Writes from several threads through the runtime's serialised store: nothing lost, nothing broken."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from tirta.leaks.events import list_events, open_event
from tirta.network.sensors import make_sensor
from tirta.server import SerialStore
from tirta.telemetry.ingest import ingest_records
from tirta.telemetry.store import open_store

T0 = pd.Timestamp("2024-03-01", tz="UTC")
SENSORS = [f"s{i}" for i in range(6)]


def _records(sensor: str, start: int, n: int) -> list[dict[str, object]]:
    return [
        {
            "sensor": sensor,
            "time": (T0 + pd.Timedelta(minutes=5 * (start + k))).isoformat(),
            "value": 30.0 + (start + k) % 11,
            "unit": "m",
        }
        for k in range(n)
    ]


def test_parallel_writers_lose_nothing(tmp_path):
    path = tmp_path / "serve.duckdb"
    store = SerialStore(open_store(f"duckdb:///{path}"))
    store.add_sensors([make_sensor({"id": s, "kind": "pressure", "unit": "m"}) for s in SENSORS])
    shared = store.as_store()
    small, batches = 25, 15  # small batches go through the store's writer thread
    errors: list[BaseException] = []
    reads: list[int] = []
    stop = threading.Event()

    def feeder(sensor: str) -> None:  # like MQTT or HTTP: many small commits
        for b in range(batches):
            ingest_records(shared, _records(sensor, b * small, small), source=f"t:{sensor}")

    def bulk() -> None:  # like the replay's calibration load: one big commit (bulk path)
        recs = pd.DataFrame(_records(SENSORS[-1], 0, 12_000))
        ingest_records(shared, recs, source="bulk")

    def events() -> None:  # like detection filing events while readings arrive
        for k in range(10):
            open_event(shared, detected_at=T0 + pd.Timedelta(hours=k), start=T0, size_lps=1.0 + k,
                       candidates=[{"pipe": f"p{k}", "score": 1.0, "size_lps": 1.0}], dma="A")  # fmt: skip

    def reader() -> None:  # the API reading meanwhile
        while not stop.is_set():
            wide = shared.read(SENSORS[:2], T0, T0 + pd.Timedelta(days=30))
            reads.append(len(wide))
            stop.wait(0.05)

    with ThreadPoolExecutor(8) as pool:
        watch = pool.submit(reader)
        jobs = [pool.submit(feeder, s) for s in SENSORS[:-1]] + [pool.submit(bulk), pool.submit(events)]
        for job in jobs:
            try:
                job.result(timeout=300)
            except BaseException as exc:
                errors.append(exc)
        stop.set()
        watch.result(timeout=60)
    assert errors == []
    counts = store.counts()
    assert counts["readings"] == (len(SENSORS) - 1) * small * batches + 12_000
    assert counts["events"] == 10 and counts["quarantine"] == 0
    assert sorted(e.size_lps for e in list_events(shared)) == [1.0 + k for k in range(10)]
    stats = store.stats()
    assert stats["writes"] >= (len(SENSORS) - 1) * batches + 1 + 10 and stats["failed"] == 0
    assert reads and max(reads) <= small * batches
    store.close()
    # the file is released and holds every reading exactly once
    with open_store(f"duckdb:///{path}") as again:
        wide = again.read(SENSORS, T0, T0 + pd.Timedelta(days=60))
        per_sensor = wide.notna().sum().to_numpy()
        assert np.array_equal(per_sensor, [small * batches] * (len(SENSORS) - 1) + [12_000])


def test_writes_never_overlap(tmp_path):
    """While one write runs, the others wait their turn on the runtime's lock."""
    store = SerialStore(open_store(f"duckdb:///{tmp_path / 's.duckdb'}"))
    store.add_sensors([make_sensor({"id": "n1", "kind": "pressure", "unit": "m"})])
    inside = 0
    most = 0
    guard = threading.Lock()
    real = store.store.ingest

    def counting(*args: object, **kwargs: object) -> object:
        nonlocal inside, most
        with guard:
            inside += 1
            most = max(most, inside)
        try:
            return real(*args, **kwargs)
        finally:
            with guard:
                inside -= 1

    store.store.ingest = counting  # type: ignore[method-assign]
    shared = store.as_store()
    with ThreadPoolExecutor(6) as pool:
        list(
            pool.map(lambda i: ingest_records(shared, _records("n1", i * 10, 10), source="x"), range(30))
        )
    assert most == 1
    assert store.counts()["readings"] == 300
    store.close()
