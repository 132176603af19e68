"""MQTT ingestion against a real mosquitto broker: formats, bad payloads, crashes and broker restarts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pandas as pd
import pytest

from tirta.errors import InputError
from tirta.network.sensors import make_sensor
from tirta.telemetry.ingest.mqtt import MqttConfig, MqttIngester, parse_broker_url, parse_payload
from tirta.telemetry.store import open_store

pytestmark = pytest.mark.service
T0 = pd.Timestamp("2024-03-01", tz="UTC")


def _store(path: Path):
    store = open_store(f"duckdb:///{path}")
    store.add_sensors(
        [
            make_sensor({"id": "n1", "kind": "pressure", "unit": "m"}),
            make_sensor({"id": "p227", "kind": "flow", "unit": "m3/h"}),
        ]
    )
    return store


def _publisher(url: str, client_id: str = "pub") -> mqtt.Client:
    host, port, _ = parse_broker_url(url)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.reconnect_delay_set(0.2, 2)
    client.connect(host, port)
    client.loop_start()
    return client


def _reading(i: int) -> dict:
    return {
        "sensor": "n1",
        "t": (T0 + pd.Timedelta(minutes=5 * i)).isoformat(),
        "v": 30.0 + i % 7,
        "unit": "m",
    }


def test_parse_payload_forms():
    one = parse_payload(
        "t", json.dumps({"sensor": "n1", "t": 1709251200, "v": 2.5, "unit": "bar"}).encode()
    )
    assert one.records[0]["time"].startswith("2024-03-01T00:00:00")
    senml = [
        {"bn": "p227", "bt": 1709251200, "bu": "m3/h", "n": "", "v": 10.0},
        {"n": "", "t": 300, "v": 11.0},
    ]
    recs = parse_payload("t", json.dumps(senml).encode()).records
    assert [r["sensor"] for r in recs] == ["p227", "p227"]
    assert recs[1]["unit"] == "m3/h" and recs[1]["time"].startswith("2024-03-01T00:05:00")
    assert parse_payload("t", b"{nope").rejected[0]["reason"] == "malformed payload"
    assert parse_payload("t", b"x" * 11, max_bytes=10).rejected[0]["reason"] == "payload too large"
    assert parse_payload("t", b"[1, 2]").rejected[0]["reason"] == "malformed payload"
    # JSON that Python's reader refuses beyond its grammar: quarantined, never raised (a message
    # that raises would stop the ingester, and the broker would send it again forever)
    huge = b'{"sensor":"n1","t":"2024-03-01T00:00:00Z","v":' + b"9" * 5000 + b',"unit":"m"}'
    deep = b"[" * 100_000 + b"]" * 100_000
    senml = b'[{"bn":"n1","bt":1' + b"0" * 400 + b',"v":1}]'
    for poison in (huge, deep, senml):
        (row,) = parse_payload("t", poison).rejected
        assert row["reason"] == "malformed payload" and row["detail"], poison[:40]
    with pytest.raises(InputError):
        parse_broker_url("http://host")


def test_object_array_and_senml_are_stored(mosquitto, tmp_path):
    store = _store(tmp_path / "s.duckdb")
    ing = MqttIngester(store, MqttConfig(mosquitto.url, ("tirta/+/readings",), client_id="t1"))
    ing.start()
    assert ing.subscribed.wait(10)
    pub = _publisher(mosquitto.url)
    msgs = [
        {"sensor": "n1", "t": T0.isoformat(), "v": 31.5, "unit": "m"},
        [
            {"sensor": "n1", "t": (T0 + pd.Timedelta(minutes=5)).isoformat(), "v": 3.0, "unit": "bar"},
            {"sensor": "p227", "t": T0.timestamp(), "v": 36.0, "unit": "m3/h"},
        ],
        [{"bn": "p227", "bt": T0.timestamp() + 300, "bu": "L/s", "n": "", "v": 12.0}],
    ]
    for m in msgs:
        pub.publish("tirta/dma-a/readings", json.dumps(m), qos=1).wait_for_publish(5)
    totals = ing.run(max_messages=3, duration_s=20)
    pub.loop_stop()
    assert (totals.accepted, totals.duplicate, totals.quarantined) == (4, 0, 0)
    wide = store.read(["n1", "p227"], T0, T0 + pd.Timedelta(hours=1))
    assert wide["n1"].tolist() == pytest.approx([31.5, 30.5913], abs=1e-3)  # 3 bar = 30.59 m of head
    assert wide["p227"].tolist() == pytest.approx([0.01, 0.012])
    store.close()


def test_bad_payloads_are_quarantined_with_reasons(mosquitto, tmp_path):
    store = _store(tmp_path / "s.duckdb")
    ing = MqttIngester(store, MqttConfig(mosquitto.url, ("tirta/#",), client_id="t2"))
    ing.start()
    assert ing.subscribed.wait(10)
    pub = _publisher(mosquitto.url)
    bad = [
        b"{this is not json",
        b"["
        + b'{"sensor": "n1", "t": "2024-03-01T00:00:00Z", "v": 1, "unit": "m"},' * 200_000
        + b"{}]",  # > 10 MB
        json.dumps(
            {"sensor": "n1'); DROP TABLE readings; --", "t": T0.isoformat(), "v": 1, "unit": "m"}
        ).encode(),
        json.dumps({"sensor": "n1", "t": "2099-01-01T00:00:00Z", "v": 30, "unit": "m"}).encode(),
        json.dumps({"sensor": "n1", "t": T0.isoformat(), "v": 30, "unit": "m3/h"}).encode(),
        json.dumps(_reading(0)).encode(),
    ]
    assert len(bad[1]) > 10_000_000
    for payload in bad:
        pub.publish("tirta/x/readings", payload, qos=1).wait_for_publish(10)
    totals = ing.run(max_messages=len(bad), duration_s=30)
    pub.loop_stop()
    assert totals.accepted == 1
    assert totals.reasons == {
        "malformed payload": 1,
        "payload too large": 1,
        "unknown sensor": 1,
        "future": 1,
        "unit not convertible": 1,
    }
    q = store.quarantined()
    assert len(q) == 5 and set(q["source"].str.startswith("mqtt")) == {True}
    assert "DROP TABLE" in " ".join(q["payload"])  # kept as data, the table is still there
    assert store.counts()["readings"] == 1
    store.close()


def _wait_subscribed(proc: subprocess.Popen, timeout: float = 60) -> None:
    """Read the ingester's log until it says it subscribed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if "subscribed" in line:
            return
        if not line and proc.poll() is not None:
            raise AssertionError(f"ingester exited: {proc.stderr.read()}")
    raise AssertionError("ingester did not subscribe")


def _ingest_cmd(url: str, store: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "tirta",
        "ingest",
        "mqtt",
        "--broker",
        url,
        "--topic",
        "tirta/+/readings",
        "--store",
        f"duckdb:///{store}",
        "--client-id",
        "crash-test",
        "--json",
        *extra,
    ]


@pytest.mark.slow
def test_sigkill_mid_stream_loses_and_doubles_nothing(mosquitto, tmp_path):
    """Kill -9 the ingester while messages flow, restart it: every reading present exactly once."""
    path = tmp_path / "s.duckdb"
    _store(path).close()
    n = 3000
    proc = subprocess.Popen(
        _ingest_cmd(mosquitto.url, path, "--idle-exit", "60"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_subscribed(proc)  # the persistent session exists from now on: the broker queues for it
    pub = _publisher(mosquitto.url)
    for i in range(n):
        pub.publish("tirta/dma-a/readings", json.dumps(_reading(i)), qos=1)
        if i % 100 == 99:
            time.sleep(0.02)  # a steady stream, so that batches commit while it flows
        if i == n // 2:
            os.kill(
                proc.pid, signal.SIGKILL
            )  # mid-stream: some batches committed, some not acknowledged
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    pub.loop_stop()
    again = subprocess.run(
        _ingest_cmd(mosquitto.url, path, "--idle-exit", "3"), capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 0, again.stderr
    with open_store(f"duckdb:///{path}") as store:
        wide = store.read(["n1"], T0, T0 + pd.Timedelta(minutes=5 * n))
        assert store.counts()["readings"] == n
    assert len(wide) == n and wide["n1"].notna().all()
    assert wide["n1"].tolist() == [30.0 + i % 7 for i in range(n)]


@pytest.mark.slow
def test_broker_restart_mid_stream(mosquitto, tmp_path):
    """The broker goes down and comes back while readings flow: the ingester reconnects by itself."""
    store = _store(tmp_path / "s.duckdb")
    ing = MqttIngester(store, MqttConfig(mosquitto.url, ("tirta/+/readings",), client_id="restart-test"))
    ing.start()
    assert ing.subscribed.wait(10)
    n = 2000
    result: dict = {}
    runner = threading.Thread(target=lambda: result.update(t=ing.run(idle_s=5, duration_s=90)))
    runner.start()
    pub = _publisher(mosquitto.url, "restart-pub")
    infos = []
    for i in range(n):
        infos.append((i, pub.publish("tirta/a/readings", json.dumps(_reading(i)), qos=1)))
        if i % 100 == 99:
            time.sleep(0.02)
        if i == n // 2:
            mosquitto.restart()
    # a gateway re-sends what the client could not hand over while the broker was away
    deadline = time.monotonic() + 60
    while not pub.is_connected() and time.monotonic() < deadline:
        time.sleep(0.1)
    for i, info in infos:
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            info = pub.publish("tirta/a/readings", json.dumps(_reading(i)), qos=1)
        info.wait_for_publish(30)
    runner.join(120)
    pub.loop_stop()
    assert not runner.is_alive()
    wide = store.read(["n1"], T0, T0 + pd.Timedelta(minutes=5 * n))
    assert len(wide) == n and wide["n1"].notna().all()
    assert store.counts()["readings"] == n
    store.close()


def test_a_sensor_registered_by_another_process_after_start_counts(mosquitto, postgres_db):
    """The registry is read at the first commit, not at start(): an ingester started before the
    sensors were registered (a deployment's ingesters start first) still accepts their readings."""
    store = open_store(postgres_db)
    ing = MqttIngester(store, MqttConfig(mosquitto.url, ("tirta/+/readings",), client_id="t-late"))
    ing.start()
    assert ing.subscribed.wait(10)
    with open_store(postgres_db) as other:  # another process's connection
        other.add_sensors([make_sensor({"id": "late1", "kind": "pressure", "unit": "m"})])
    pub = _publisher(mosquitto.url, "pub-late")
    reading = {"sensor": "late1", "t": T0.isoformat(), "v": 31.5, "unit": "m"}
    pub.publish("tirta/a/readings", json.dumps(reading), qos=1).wait_for_publish(5)
    totals = ing.run(max_messages=1, duration_s=20)
    pub.loop_stop()
    store.close()
    assert (totals.accepted, totals.quarantined) == (1, 0)
