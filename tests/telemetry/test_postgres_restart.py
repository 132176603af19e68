"""PostgreSQL restarted under load: the store reconnects by itself and every committed batch is kept once."""

from __future__ import annotations

import threading
import time

import pandas as pd
import pytest

from services import PostgresServer
from tirta.errors import StoreError
from tirta.telemetry.store import open_store

pytestmark = [pytest.mark.service, pytest.mark.slow]

ROWS = 50  # readings per batch


def _batch(i: int) -> pd.DataFrame:
    """Batch ``i``: ROWS readings of two sensors at times no other batch uses."""
    times = pd.date_range("2021-01-01", periods=ROWS // 2, freq="1s", tz="UTC") + pd.Timedelta(minutes=i)
    return pd.concat(
        [pd.DataFrame({"sensor": s, "time": times, "value": float(i)}) for s in ("a", "b")],
        ignore_index=True,
    )


def _wait(condition: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


def test_writer_survives_a_server_restart(postgres_server: PostgresServer, postgres_db: str) -> None:
    import psycopg

    committed: list[int] = []
    failed: list[tuple[int, str]] = []
    stop = threading.Event()
    with open_store(postgres_db) as store:

        def writer() -> None:
            i = 0
            while not stop.is_set():
                try:
                    store.write(_batch(i), source=f"batch-{i}")  # through the writer thread
                    committed.append(i)
                except StoreError as exc:
                    failed.append((i, str(exc)))
                i += 1

        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        try:
            _wait(lambda: len(committed) >= 20, 60)
            postgres_server.restart()  # fast shutdown: every connection is dropped mid-stream
            at_restart = len(committed)
            _wait(lambda: len(committed) >= at_restart + 20, 90)
        finally:
            stop.set()
            thread.join(60)
        assert not thread.is_alive()
        assert failed == []
        assert store.reconnects >= 1  # it did lose the connection and came back by itself
        stored = store.read(["a", "b"], "2021-01-01", "2021-02-01")
    with psycopg.connect(postgres_db) as con:
        rows = con.execute(
            "SELECT value, count(*), count(DISTINCT (sensor, time)) FROM readings GROUP BY value"
        ).fetchall()
    per_batch = {int(v): (n, distinct) for v, n, distinct in rows}
    for i in committed:
        assert per_batch[i] == (ROWS, ROWS), f"batch {i} not stored exactly once"
    assert stored.notna().all().all() and len(stored) >= len(committed) * ROWS // 2
