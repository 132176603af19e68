"""MQTT inside ``tirta serve`` (:class:`tirta.server.mqtt.MqttService`) against a real mosquitto."""

from __future__ import annotations

import json
import time
from typing import Any

import paho.mqtt.client as mqtt
import pandas as pd
import pytest

from tirta.errors import StoreError
from tirta.network.sensors import make_sensor
from tirta.server.mqtt import MqttService
from tirta.telemetry.ingest.mqtt import MqttConfig, parse_broker_url
from tirta.telemetry.store import open_store

pytestmark = pytest.mark.service
T0 = pd.Timestamp("2024-03-01", tz="UTC")


def wait_for(what: Any, timeout_s: float = 30.0) -> None:
    """Poll ``what()`` until it is truthy (a deadline for a hang, not a timing assertion)."""
    deadline = time.monotonic() + timeout_s
    while not what():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_after_a_failed_commit_the_broker_redelivers_in_order(tmp_path, mosquitto) -> None:
    """A batch whose commit fails is not acknowledged. The service restarts the session so that the
    broker delivers it again right away, before anything newer is committed (committing newer
    messages first would let the old batch arrive later and overwrite newer values)."""
    store = open_store(f"duckdb://{tmp_path}/s.duckdb")
    store.add_sensors([make_sensor({"id": "n1", "kind": "pressure", "unit": "m"})])
    real, failures = store.ingest, []

    def ingest_failing_once(*args: Any, **kwargs: Any) -> Any:
        if not failures:
            failures.append(1)
            raise StoreError("disk full (simulated)")
        return real(*args, **kwargs)

    store.ingest = ingest_failing_once  # type: ignore[method-assign]
    service = MqttService(store, MqttConfig(broker=mosquitto.url, client_id="svc", flush_s=0.1))
    host, port, _ = parse_broker_url(mosquitto.url)
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="pub")
    pub.connect(host, port)
    pub.loop_start()
    try:
        service.start()
        wait_for(service.ingester.subscribed.is_set)
        for i, value in enumerate([1.0, 2.0]):
            reading = {"sensor": "n1", "t": (T0 + pd.Timedelta(minutes=5 * i)).isoformat()}
            message = json.dumps({**reading, "v": value, "unit": "m"})
            pub.publish("tirta/a/readings", message, qos=1).wait_for_publish()
            wait_for(lambda: bool(failures))  # the first commit failed
        wait_for(lambda: service.status()["accepted"] >= 2)
    finally:
        service.stop()
        pub.loop_stop()
        pub.disconnect()
    assert failures == [1] and service.ingester.messages >= 2
    wide = store.read(["n1"], T0, T0 + pd.Timedelta("10min"))
    assert wide["n1"].tolist() == [1.0, 2.0]  # the failed batch came again, nothing lost
    assert service.status()["connected"] is False  # stopped
    store.close()
