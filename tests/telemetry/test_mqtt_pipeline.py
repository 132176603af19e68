"""The ingester's two stages (parse, commit) without a broker: acknowledgements only after the commit,
commits in arrival order, nothing newer committed after a failed commit, batches within a budget."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tirta.errors import StoreError
from tirta.network.sensors import make_sensor
from tirta.telemetry.ingest.mqtt import MqttConfig, MqttIngester, _Pending
from tirta.telemetry.ingest.pipe import CommitPipe
from tirta.telemetry.store import Store, open_store

T0 = pd.Timestamp("2024-03-01", tz="UTC")


class _Message:
    """What paho hands to ``on_message``."""

    def __init__(self, mid: int, payload: bytes) -> None:
        self.topic, self.payload, self.mid, self.qos = "tirta/a/readings", payload, mid, 1


class _Store:
    """A real store that counts committed rows, commits slowly (so that the next batch is parsed
    meanwhile) and can fail the n-th commit."""

    def __init__(self, store: Store, fail_at: int | None = None) -> None:
        self.store, self.fail_at, self.calls, self.committed = store, fail_at, 0, 0

    def ingest(self, raw: Any, **kw: Any) -> Any:
        self.calls += 1
        if self.calls == self.fail_at:
            raise StoreError("disk full")
        time.sleep(0.01)
        result = self.store.ingest(raw, **kw)
        self.committed += len(raw)
        return result

    def write(self, readings: Any, **kw: Any) -> Any:  # quarantine rows of messages read one by one
        result = self.store.write(readings, **kw)
        quarantine = kw.get("quarantine")
        self.committed += len(readings) + (0 if quarantine is None else len(quarantine))
        return result

    def set_threads(self, threads: int) -> int | None:
        return self.store.set_threads(threads)


class _Client:
    """Stands in for paho: checks that each acknowledged message is already committed."""

    def __init__(self, store: _Store) -> None:
        self.store, self.acks, self.connected = store, [], True

    def ack(self, mid: int, qos: int) -> None:
        assert qos == 1
        assert self.store.committed >= mid, f"message {mid} acknowledged before its commit"
        self.acks.append(mid)

    def disconnect(self) -> None:
        self.connected = False

    def loop_stop(self) -> None:
        pass


def _payload(i: int, value: float) -> bytes:
    """Message ``i`` (mid i + 1): one reading; keys repeat every 50 messages (later ones correct)."""
    t = (T0 + pd.Timedelta(minutes=5 * (i % 50))).isoformat()
    return json.dumps([{"sensor": "n1", "t": t, "v": value, "unit": "m"}]).encode()


def _messages(n: int) -> list[tuple[int, bytes]]:
    """(mid, payload) of messages 0 .. n - 1, message i holding value i / 10."""
    return [(i + 1, _payload(i, i / 10)) for i in range(n)]


def _ingester(store: _Store, **cfg: Any) -> tuple[MqttIngester, _Client]:
    # batches of at most 40 messages: no key twice in a batch (a conflict there is quarantined)
    cfg = {"batch_bytes": 600, "batch_max": 40, "flush_s": 0.05, "linger_s": 0.01} | cfg
    ing = MqttIngester(store, MqttConfig("mqtt://127.0.0.1:1", client_id="pipeline-test", **cfg))  # type: ignore[arg-type]
    client = _Client(store)
    ing.client = client  # type: ignore[assignment]
    return ing, client


def _deliver(ing: MqttIngester, messages: list[tuple[int, bytes]]) -> None:
    for mid, payload in messages:
        ing._on_message(None, None, _Message(mid, payload))  # type: ignore[arg-type]


def _stored(path: Path) -> list[float]:
    with open_store(f"duckdb:///{path}") as store:
        wide = store.read(["n1"], T0, T0 + pd.Timedelta(minutes=5 * 50))
    return wide["n1"].tolist()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    path = tmp_path / "s.duckdb"
    with open_store(f"duckdb:///{path}") as store:
        store.add_sensors([make_sensor({"id": "n1", "kind": "pressure", "unit": "m"})])
    return path


def test_acks_follow_commits_in_order_and_the_last_correction_wins(path: Path) -> None:
    n = 300
    messages = _messages(n)
    with open_store(f"duckdb:///{path}") as real:
        store = _Store(real)
        ing, client = _ingester(store)
        _deliver(ing, messages)
        totals = ing.run(max_messages=n)
    assert store.calls >= 3  # several batches went through both stages
    assert client.acks == [mid for mid, _ in messages]
    assert totals.accepted + totals.duplicate == n
    assert _stored(path) == [(250 + k) / 10 for k in range(50)]  # the last of each key


def test_batches_read_every_way_commit_together_and_the_last_correction_wins(path: Path) -> None:
    """A stream mixing what the compiled scanner reads with times it parses (ISO-8601), what it reads
    leaving times to the rules (a space for the T) and what only DuckDB reads (an escape): commits
    join such batches, and each reading ends as if read one by one."""

    def payload(i: int, value: float) -> bytes:
        t = (T0 + pd.Timedelta(minutes=5 * (i % 50))).isoformat()
        form = i % 3
        text = json.dumps([{"sensor": "n1", "t": t if form != 1 else t.replace("T", " "), "v": value,
                            "unit": "m"}])  # fmt: skip
        return (text.replace('"n1"', '"\\u006e1"') if form == 2 else text).encode()

    n = 300
    messages = [(i + 1, payload(i, i / 10)) for i in range(n)]
    with open_store(f"duckdb:///{path}") as real:
        store = _Store(real)
        ing, client = _ingester(store)
        _deliver(ing, messages)
        totals = ing.run(max_messages=n)
    assert client.acks == [mid for mid, _ in messages]
    assert totals.accepted + totals.duplicate == n and totals.quarantined == 0
    assert _stored(path) == [(250 + k) / 10 for k in range(50)]


def test_messages_python_cannot_read_are_quarantined_and_the_stream_goes_on(path: Path) -> None:
    """An integer of 5000 digits, nesting 100,000 deep, a SenML time beyond floats: read message by
    message (their batch has a SenML message), each is quarantined; the readings around them stored."""
    poison = [
        b'{"sensor":"n1","t":"2024-03-01T00:00:00Z","v":' + b"9" * 5000 + b',"unit":"m"}',
        b"[" * 100_000 + b"]" * 100_000,
        b'[{"bn":"n1","bt":1' + b"0" * 400 + b',"v":1}]',
    ]
    messages = [
        (1, _payload(0, 1.0)),
        *((i + 2, p) for i, p in enumerate(poison)),
        (5, _payload(1, 2.0)),
    ]
    with open_store(f"duckdb:///{path}") as real:
        store = _Store(real)
        ing, client = _ingester(store, batch_bytes=10_000_000)
        _deliver(ing, messages)
        totals = ing.run(max_messages=len(messages))
    assert client.acks == [1, 2, 3, 4, 5]
    assert totals.accepted == 2 and totals.reasons == {"malformed payload": 3}
    assert _stored(path)[:2] == [1.0, 2.0]


def test_nothing_newer_is_committed_after_a_failed_commit(path: Path) -> None:
    """A failed commit stops the ingester; every acknowledged reading is stored, and a restart that
    gets the unacknowledged messages again (as the broker resends them) stores every reading once."""
    n = 300
    messages = _messages(n)
    with open_store(f"duckdb:///{path}") as real:
        store = _Store(real, fail_at=3)
        ing, client = _ingester(store)
        _deliver(ing, messages)
        with pytest.raises(StoreError):
            ing.run(max_messages=n)
        assert not client.connected
        assert client.acks == list(range(1, len(client.acks) + 1))  # a prefix of the stream
        assert store.committed == len(client.acks) < n  # nothing after the failed batch
        stored = real.counts()["readings"]
        assert stored == min(len(client.acks), 50)

        again = _Store(real)
        ing, client = _ingester(again)
        _deliver(ing, [m for m in messages if m[0] > store.committed])  # the broker resends
        again.committed = store.committed  # what the first run committed stays committed
        ing.run(max_messages=n - store.committed)
    assert _stored(path) == [(250 + k) / 10 for k in range(50)]


def test_an_interrupted_run_commits_the_taken_batch_first(path: Path) -> None:
    """Ctrl-C between taking a batch and committing it: stop() commits it before newer messages."""
    n = 50
    messages = _messages(n)
    with open_store(f"duckdb:///{path}") as real:
        store = _Store(real)
        ing, client = _ingester(store)
        parse, calls = ing._parse, []

        def interrupted(batch: list[_Pending]) -> Any:
            calls.append(len(batch))
            if len(calls) == 2:
                raise KeyboardInterrupt
            return parse(batch)

        ing._parse = interrupted  # type: ignore[method-assign]
        _deliver(ing, messages)
        with pytest.raises(KeyboardInterrupt):
            ing.run(max_messages=n)
        assert len(calls) == 3 and calls[0] < n  # interrupted after the first batch, then stop()
    assert client.acks == [mid for mid, _ in messages]  # acknowledged (and committed) in order
    assert _stored(path) == [k / 10 for k in range(50)]


def test_take_stops_at_the_byte_budget_and_message_limit(path: Path) -> None:
    with open_store(f"duckdb:///{path}") as real:
        ing, _ = _ingester(_Store(real))
        _deliver(ing, [(i + 1, b"x" * (10 * (i + 1))) for i in range(6)])  # 10, 20, ... 60 bytes
        batch, cut = ing._take(35)
        assert [m.mid for m in batch] == [1, 2] and cut
        assert ing._pending_bytes == 30 + 40 + 50 + 60
        batch, cut = ing._take(1)  # at least one message
        assert [m.mid for m in batch] == [3] and cut
        batch, cut = ing._take(max_messages=2)
        assert [m.mid for m in batch] == [4, 5] and cut
        batch, cut = ing._take()  # everything
        assert [m.mid for m in batch] == [6] and not cut
        assert ing._pending == [] and ing._pending_bytes == 0


def test_a_commit_takes_every_batch_read_meanwhile_up_to_the_message_limit() -> None:
    gate, groups = threading.Event(), []

    def commit(group: list[str]) -> int:
        gate.wait(5)  # the first commit waits until the later items are queued
        groups.append(group)
        return len(group)

    pipe: CommitPipe[str, int] = CommitPipe(commit, threading.Event(), max_messages=5)
    pipe.put("a", 1, 10)
    time.sleep(0.05)  # taken alone: nothing else waited
    for item in "bcde":
        pipe.put(item, 2, 10)
    assert pipe.queued_bytes == 40 and not pipe.idle()
    gate.set()
    pipe.close()
    assert groups == [["a"], ["b", "c"], ["d", "e"]]  # 2 + 2 messages; a third batch would be 6
    assert pipe.results() == [1, 2, 2] and pipe.idle() and pipe.queued_bytes == 0


def test_after_a_failed_commit_the_pipe_commits_nothing_more_and_raises() -> None:
    groups: list[list[int]] = []

    def commit(group: list[int]) -> None:
        if group[0] == 2:
            raise StoreError("disk full")
        groups.append(group)
        time.sleep(0.02)

    pipe: CommitPipe[int, None] = CommitPipe(commit, threading.Event(), max_messages=1)
    for item in range(5):
        pipe.put(item, 1, 1)
    pipe.close()
    assert groups == [[0], [1]]
    with pytest.raises(StoreError, match="disk full"):
        pipe.results()


def test_the_store_ingests_on_the_threads_asked_and_gets_its_own_back(path: Path) -> None:
    """``store_threads`` (what ``tirta ingest mqtt`` sets) holds while run() ingests, not after."""
    with open_store(f"duckdb:///{path}") as real:
        real.set_threads(3)
        store, seen = _Store(real), []
        ingest = store.ingest

        def watched(raw: Any, **kw: Any) -> Any:
            seen.append(real._con.execute("SELECT current_setting('threads')").fetchone()[0])  # type: ignore[attr-defined]
            return ingest(raw, **kw)

        store.ingest = watched  # type: ignore[method-assign]
        ing, _ = _ingester(store, store_threads=1)
        _deliver(ing, _messages(30))
        ing.run(max_messages=30)
        assert seen and set(seen) == {1}
        assert real.set_threads(2) == 3


def test_under_load_a_commit_waits_for_enough_bytes_or_at_most_the_longest_wait() -> None:
    groups: list[tuple[list[str], float]] = []

    def commit(group: list[str]) -> None:
        groups.append((group, time.monotonic()))

    def committed(n: int) -> None:
        deadline = time.monotonic() + 2
        while len(groups) < n and time.monotonic() < deadline:
            time.sleep(0.005)

    pipe: CommitPipe[str, None] = CommitPipe(
        commit, threading.Event(), max_messages=100, min_bytes=30, max_wait_s=0.2
    )
    pipe.put("a", 1, 10, more=True)
    pipe.put("b", 1, 10, more=True)
    time.sleep(0.05)
    assert not groups  # 20 bytes, more coming: it waits
    pipe.put("c", 1, 10, more=True)
    committed(1)
    assert [g for g, _ in groups] == [["a", "b", "c"]]  # 30 bytes: at once
    put = time.monotonic()
    pipe.put("d", 1, 5, more=True)
    committed(2)
    assert groups[1][0] == ["d"] and groups[1][1] - put >= 0.18  # too few bytes: the longest wait
    put = time.monotonic()
    pipe.put("e", 1, 5)  # nothing more follows: at once
    committed(3)
    assert groups[2][0] == ["e"] and groups[2][1] - put < 0.15
    pipe.close()
