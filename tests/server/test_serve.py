"""``tirta serve`` as a real process: status of its jobs, MQTT ingestion inside it, clean shutdown."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pandas as pd
import pytest
import wntr

from tirta.api.users import UserStore
from tirta.network.sensors import make_sensor
from tirta.telemetry.ingest.mqtt import parse_broker_url
from tirta.telemetry.store import open_store

T0 = pd.Timestamp("2024-03-01", tz="UTC")


def _setup(tmp_path) -> tuple[str, str, dict[str, str]]:
    """A store with two sensors, a users database with a viewer; (store URL, users db, headers)."""
    url = f"duckdb:///{tmp_path / 'serve.duckdb'}"
    with open_store(url) as store:
        store.add_sensors(
            [
                make_sensor({"id": "n1", "kind": "pressure", "unit": "m"}),
                make_sensor({"id": "p227", "kind": "flow", "unit": "m3/h"}),
            ]
        )
    users = tmp_path / "users.sqlite"
    key = UserStore(users).add_user("watcher", "viewer")
    return url, str(users), {"Authorization": f"Bearer {key}"}


def test_serve_answers_status_and_stops_cleanly(tmp_path, launch, port, http_ok):
    url, users, headers = _setup(tmp_path)
    proc = launch(
        "serve", "--store", url, "--users-db", users, "--port", port, "--detect-every", "1s",
        env={"TIRTA_NIGHTLY_AT": "03:00"},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}/api/v1"
    status = http_ok(f"{base}/status", headers, proc).json()
    assert set(status["jobs"]) == {"detect", "nightly_balance"}
    detect = status["jobs"]["detect"]
    assert detect["disabled"].startswith("no calibration window") and detect["runs"] == 0
    assert status["jobs"]["nightly_balance"]["schedule"] == "daily at 03:00 (clock time)"
    assert status["mqtt"] is None and status["replay"] is None
    assert status["store"].endswith("serve.duckdb")
    assert httpx.get(f"{base}/status", timeout=5).status_code == 401
    assert httpx.get(f"{base}/analytics/balance", headers=headers, timeout=5).status_code == 404
    assert proc.interrupt() == 0, proc.output
    # the process let go of the store file
    with open_store(url) as store:
        assert store.counts()["readings"] == 0


def test_a_missing_billing_file_is_named_before_serving(tmp_path, launch, port):
    url, users, _ = _setup(tmp_path)
    missing = tmp_path / "billing.csv"
    proc = launch("serve", "--store", url, "--users-db", users, "--port", port, "--billing", missing)
    assert proc.proc.wait(60) == 2
    proc.interrupt()
    assert f"{missing}: field '--billing': billing file not found" in proc.output


def test_detection_runs_on_schedule_and_says_it_has_nothing_to_do(tmp_path, launch, port, http_ok):
    """With a calibration window but no readings, detection has nothing to do: it says so once in
    the log (no traceback) and in its status, every run; the server stays up."""
    url, users, headers = _setup(tmp_path)
    proc = launch(
        "serve", "--store", url, "--users-db", users, "--port", port, "--detect-every", "1s",
        "--train-from", "2024-01-01", "--train-to", "2024-01-08",
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}/api/v1"
    http_ok(f"{base}/status", headers, proc)
    deadline = time.monotonic() + 60
    while True:
        detect = httpx.get(f"{base}/status", headers=headers, timeout=5).json()["jobs"]["detect"]
        if detect["runs"] >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert detect["runs"] >= 2 and detect["failures"] == 0, detect
    assert detect["last_result"]["skipped"].startswith("no readings in the calibration window"), detect
    assert httpx.get(f"{base}/events", headers=headers, timeout=5).json()["total"] == 0
    assert proc.interrupt() == 0, proc.output
    assert proc.output.count("nothing to do") == 1, proc.output
    assert "Traceback" not in proc.output


@pytest.mark.service
def test_mqtt_inside_serve_stores_published_readings(tmp_path, launch, port, http_ok, mosquitto):
    url, users, headers = _setup(tmp_path)
    proc = launch(
        "serve", "--store", url, "--users-db", users, "--port", port, "--mqtt", mosquitto.url
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}/api/v1"
    http_ok(f"{base}/status", headers, proc)
    deadline = time.monotonic() + 30
    while not httpx.get(f"{base}/status", headers=headers, timeout=5).json()["mqtt"]["subscribed"]:
        assert time.monotonic() < deadline, proc.output
        time.sleep(0.2)
    host, mport, _ = parse_broker_url(mosquitto.url)
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="pub-serve")
    pub.connect(host, mport)
    pub.loop_start()
    n = 60
    for i in range(n):
        when = (T0 + pd.Timedelta(minutes=5 * i)).isoformat()
        msg = {"sensor": "n1", "t": when, "v": 30.0 + i % 5, "unit": "m"}
        pub.publish("tirta/n1/readings", json.dumps(msg), qos=1).wait_for_publish(5)
    pub.publish("tirta/n1/readings", b"{not json", qos=1).wait_for_publish(5)
    pub.loop_stop()
    pub.disconnect()
    deadline = time.monotonic() + 30
    while True:
        got = httpx.get(f"{base}/status", headers=headers, timeout=5).json()["mqtt"]
        if (got["accepted"] >= n and got["quarantined"] >= 1) or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert got["accepted"] == n and got["quarantined"] == 1 and got["last_error"] is None, got
    # the readings are readable through the same server's API
    page = httpx.get(
        f"{base}/readings",
        params={"sensors": "n1", "from": "2024-03-01", "to": "2024-03-02", "layout": "long"},
        headers=headers,
        timeout=10,
    ).json()
    assert page["total"] == n
    assert proc.interrupt() == 0, proc.output
    with open_store(url) as store:
        assert store.counts()["readings"] == n and store.counts()["quarantine"] == 1


NET1 = Path(wntr.__file__).parent / "library" / "networks" / "Net1.inp"
NET1_DMAS = """\
[[dma]]
name = "N"
description = "everything below the pump of EPANET's Net1"
inlets = ["10"]
outlets = ["110"]
connections = 900
nodes = ["11", "12", "13", "21", "22", "23", "31", "32"]
"""
AUDIT = """\
[system]
mains_length_km = 20
connections = 900
private_pipe_length_km = 0
average_pressure_m = 40
days = 30

[volumes]
own_sources = 100000
imported = 0
exported = 0
billed_metered = 70000
billed_unmetered = 0
unbilled_metered = 0
customer_meter_under_registration_pct = 2
"""


def test_serve_a_utilitys_own_network_dmas_and_audit(tmp_path, launch, port, http_ok):
    url, users, headers = _setup(tmp_path)  # n1 and p227: L-Town's ids, not Net1's
    dmas, audit = tmp_path / "net1.dmas.toml", tmp_path / "audit.toml"
    dmas.write_text(NET1_DMAS, encoding="utf-8")
    audit.write_text(AUDIT, encoding="utf-8")
    proc = launch(
        "serve", "--store", url, "--users-db", users, "--port", port,
        "--network", NET1, "--dmas", dmas, "--audit", audit,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}/api/v1"
    got = http_ok(f"{base}/network/dmas", headers, proc).json()
    assert [f["id"] for f in got["features"]] == ["N"]
    assert http_ok(f"{base}/network/nodes", headers, proc).json()["total"] == 11
    assert httpx.get(f"{base}/public/kpis", timeout=10).json()["source"] == "published water audit"
    notices = http_ok(f"{base}/network/map", headers, proc).json()["meta"]["notices"]
    assert notices == [
        "2 of 2 registered sensors sit on no node or link of this network model: the store holds "
        "another network's data, or the sensors file names other ids"
    ]
    assert proc.interrupt() == 0, proc.output
    assert f"network: {NET1} (11 nodes, 13 links), DMAs: {dmas} (N)" in proc.output
    assert "built-in L-Town" not in proc.output


def test_without_a_network_the_builtin_one_is_said_everywhere(tmp_path, launch, port, http_ok):
    url, users, headers = _setup(tmp_path)
    proc = launch("serve", "--store", url, "--users-db", users, "--port", port)
    base = f"http://127.0.0.1:{port}/api/v1"
    meta = http_ok(f"{base}/network/map", headers, proc).json()["meta"]
    assert meta["notices"][0].startswith("showing tirta's built-in L-Town model")
    assert proc.interrupt() == 0, proc.output
    assert "note: showing tirta's built-in L-Town model" in proc.output


def test_a_missing_or_broken_model_is_one_line_before_serving(tmp_path, launch, port):
    url, users, _ = _setup(tmp_path)
    missing = tmp_path / "nowhere.inp"
    proc = launch("serve", "--store", url, "--users-db", users, "--port", port, "--network", missing)
    assert proc.proc.wait(60) == 2
    assert f"{missing}: field '--network': network model not found" in proc.output
    alone = tmp_path / "alone.inp"
    alone.write_bytes(NET1.read_bytes())
    proc = launch("serve", "--store", url, "--users-db", users, "--port", port, "--network", alone)
    assert proc.proc.wait(60) == 2
    assert "give the DMA file of the network" in proc.output and "Traceback" not in proc.output
