"""Two ``tirta ingest mqtt`` processes share one subscription ($share/GROUP/…) into one PostgreSQL
store; one is killed with SIGKILL mid-stream and restarted: every reading is stored exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import pandas as pd
import pytest

from tirta.cli.ingest_mqtt import shared_topics
from tirta.errors import InputError
from tirta.network.sensors import make_sensor
from tirta.telemetry.ingest.mqtt import parse_broker_url
from tirta.telemetry.store import open_store

T0 = pd.Timestamp("2024-03-01", tz="UTC")
SENSORS = [f"n{i}" for i in range(20)]


def _cmd(broker: str, store: str, client_id: str, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "tirta", "ingest", "mqtt", "--broker", broker, "--topic", "tirta/+/readings",
        "--group", "ingest", "--client-id", client_id, "--store", store, "--json", *extra,
    ]  # fmt: skip


class Ingester:
    """One ingester process whose log lines are collected by a thread (never blocks on a full pipe)."""

    def __init__(self, cmd: list[str]) -> None:
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, args=(self.proc.stderr,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[str] | None) -> None:
        assert stream is not None
        for line in stream:
            self.lines.append(line)

    def wait_subscribed(self, timeout_s: float = 90.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not any("subscribed" in line for line in self.lines):
            if self.proc.poll() is not None:
                raise AssertionError(f"ingester exited: {''.join(self.lines)}")
            assert time.monotonic() < deadline, "ingester did not subscribe"
            time.sleep(0.1)

    def accepted(self) -> int:
        return sum(int(line.split()[1]) for line in self.lines if line.startswith("committed:"))


def _publish(broker: str, messages: int, on_half: object) -> None:
    import paho.mqtt.client as mqtt

    host, port, _ = parse_broker_url(broker)
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="shared-pub", clean_session=False)
    pub.max_inflight_messages_set(1000)
    pub.connect(host, port)
    pub.loop_start()
    infos = []
    for m in range(messages):
        t = (T0 + pd.Timedelta(minutes=5 * m)).isoformat()
        batch = [
            {"sensor": s, "t": t, "v": float(m % 50 + i), "unit": "m"} for i, s in enumerate(SENSORS)
        ]
        infos.append(pub.publish("tirta/city/readings", json.dumps(batch), qos=1))
        if m % 50 == 49:
            time.sleep(0.05)  # a steady stream: both ingesters commit batches while it flows
        if m == messages // 2:
            on_half()  # type: ignore[operator]
    for info in infos:
        info.wait_for_publish(30)
    pub.loop_stop()
    pub.disconnect()


@pytest.mark.slow
@pytest.mark.service
def test_two_ingesters_share_a_stream_and_survive_a_kill(
    mosquitto: object, postgres_db: str, tmp_path: Path
) -> None:
    with open_store(postgres_db) as store:
        store.add_sensors([make_sensor({"id": s, "kind": "pressure", "unit": "m"}) for s in SENSORS])
    broker = mosquitto.url  # type: ignore[attr-defined]
    first = Ingester(_cmd(broker, postgres_db, "ingest-1", "--idle-exit", "20"))
    second = Ingester(_cmd(broker, postgres_db, "ingest-2", "--idle-exit", "20"))
    first.wait_subscribed()
    second.wait_subscribed()
    messages = 1200
    _publish(broker, messages, lambda: os.kill(first.proc.pid, signal.SIGKILL))
    first.proc.wait(30)
    assert first.proc.returncode == -signal.SIGKILL
    restarted = Ingester(_cmd(broker, postgres_db, "ingest-1", "--idle-exit", "5"))
    assert restarted.proc.wait(180) == 0, "".join(restarted.lines)
    assert second.proc.wait(180) == 0, "".join(second.lines)
    assert second.accepted() > 0 and first.accepted() + restarted.accepted() > 0  # the stream was shared

    import psycopg

    with psycopg.connect(postgres_db) as con:
        total, distinct = con.execute(
            "SELECT count(*), count(DISTINCT (sensor, time)) FROM all_readings"
        ).fetchone()  # type: ignore[misc]
    assert total == distinct == messages * len(SENSORS)


def test_group_makes_shared_topics() -> None:
    assert shared_topics(["tirta/+/readings"], "g1") == ("$share/g1/tirta/+/readings",)
    assert shared_topics(["a/b"], None) == ("a/b",)
    with pytest.raises(InputError, match="group"):
        shared_topics(["a"], "x/y")
