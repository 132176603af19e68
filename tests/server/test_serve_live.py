"""Live pages against a real ``tirta serve`` on PostgreSQL in real Chromium: a reading committed and an
event opened by another process reach the open page through the stream, with no reload and polling
set to 10 minutes; the status page shows the jobs, the ingestion and the store, and follows them."""

from __future__ import annotations

import os
import time

import httpx
import pandas as pd
import pytest

from browser import wait_js
from tirta.api.users import UserStore
from tirta.leaks.events import open_event
from tirta.network.sensors import make_sensor
from tirta.telemetry.store import open_store

pytestmark = [pytest.mark.slow, pytest.mark.service]
T0 = pd.Timestamp("2024-03-01 06:00", tz="UTC")
PASSWORD = "live-pages-pw-1"
PYPATH = {"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}  # a worktree


def _reading(url: str, at: pd.Timestamp, value: float) -> None:
    """Commit one pressure reading of n1 from this (another) process."""
    with open_store(url) as store:
        raw = pd.DataFrame({"sensor": ["n1"], "time": [at], "value": [value], "unit": ["m"]})
        assert store.ingest(raw, source="test").accepted == 1


def _login(page, base: str, path: str) -> None:
    page.goto(f"{base}{path}")
    page.fill("#username", "watcher")
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{base}{path}")


def test_pushed_reading_event_and_status_reach_open_pages(
    tmp_path, postgres_db, launch, port, http_ok, browser
):
    url = postgres_db
    with open_store(url) as store:
        store.add_sensors(
            [
                make_sensor({"id": "n1", "kind": "pressure", "unit": "m"}),
                make_sensor({"id": "p227", "kind": "flow", "unit": "m3/h"}),
            ]
        )
    _reading(url, T0, 40.0)
    users = UserStore(tmp_path / "users.sqlite")
    key = users.add_user("watcher", "viewer")
    users.set_password("watcher", PASSWORD)
    proc = launch(
        "serve", "--store", url, "--users-db", tmp_path / "users.sqlite", "--port", port,
        "--detect-every", "2s", "--train-from", "2024-02-01", "--train-to", "2024-02-08",
        env={"TIRTA_POLL_S": "600", "TIRTA_NIGHTLY_AT": "03:00", **PYPATH},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    http_ok(f"{base}/api/v1/status", {"Authorization": f"Bearer {key}"}, proc)
    assert httpx.get(f"{base}/api/v1/stream", timeout=5).status_code == 401  # no key, no session

    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _login(page, base, "/sensors")
    wait_js(page, "document.body.dataset.live === 'on'", 30)
    row = "document.querySelector('#sensors tr[data-id=\"n1\"] [data-f=value]')?.textContent"
    assert page.evaluate(row) == "40.000"
    page.evaluate("window.__kept = 42")  # gone if the page reloads
    began = time.monotonic()
    _reading(url, T0 + pd.Timedelta(minutes=1), 43.21)
    wait_js(page, f"{row} === '43.210'", 20)
    assert time.monotonic() - began < 20  # far below the 600 s poll interval
    assert page.evaluate("window.__kept") == 42 and page.evaluate("document.body.dataset.pushed")

    page.goto(f"{base}/events")
    wait_js(page, "document.body.dataset.live === 'on'", 30)
    page.evaluate("window.__kept = 7")
    assert page.evaluate("document.querySelectorAll('#events a[href^=\"/events/\"]').length") == 0
    with open_store(url) as store:
        eid = open_event(
            store, detected_at=T0, start=T0, size_lps=2.5, candidates=[{"pipe": "p1", "score": 0.9}],
            dma="A",
        )  # fmt: skip
    wait_js(page, f"document.querySelector('#events a[href=\"/events/{eid}\"]') !== null", 20)
    assert page.evaluate("window.__kept") == 7

    page.click("nav a[href='/status']")
    page.wait_for_url(f"{base}/status")
    wait_js(page, "document.body.dataset.live === 'on'", 30)
    jobs = page.eval_on_selector_all("#jobs tr[data-job]", "rs => rs.map(r => r.dataset.job)")
    assert {"detect", "nightly_balance", "nightly_compact"} == set(jobs)
    assert "daily at 03:00" in page.inner_text("#jobs tr[data-job=nightly_balance]")
    # detection runs every 2 s: each run is pushed to the page (runs, last run, duration, failures)
    runs = "Number(document.querySelector('#jobs tr[data-job=detect] td.num')?.textContent)"
    seen = page.evaluate(runs)
    wait_js(page, f"{runs} >= {seen + 2}", 30)
    cells = page.eval_on_selector_all(
        "#jobs tr[data-job=detect] td", "tds => tds.map(t => t.textContent)"
    )
    assert cells[1] == "every 2 s" and cells[3].startswith("20") and float(cells[4]) >= 0, cells
    assert page.inner_text("#st-size").startswith("2 readings")
    assert "duckdb" not in page.inner_text("#st-url") and page.inner_text("#mqtt").count(
        "not configured"
    )
    page.evaluate("window.__kept = 9")
    _reading(url, T0 + pd.Timedelta(minutes=2), 44.0)
    wait_js(page, "document.getElementById('st-size')?.textContent.startsWith('3 readings')", 20)
    wait_js(page, "document.getElementById('st-latest')?.textContent === '2024-03-01 06:02:00'", 5)
    assert page.inner_text("#st-commit").endswith(" s")  # the commit was seen while watching
    assert "pressure" in page.inner_text("#kinds")
    assert page.evaluate("window.__kept") == 9
    assert not errors, errors
    # Ctrl-C while the page still listens: the stream ends, the server does not wait for it
    assert proc.interrupt(timeout_s=20) == 0, proc.output
    page.close()


def test_pages_fall_back_to_polling_when_the_stream_fails(tmp_path, launch, port, http_ok, browser):
    """The stream cut off (every request to it aborted): the page says so and polls as before."""
    url = f"duckdb:///{tmp_path / 'live.duckdb'}"
    with open_store(url) as store:
        store.add_sensors([make_sensor({"id": "n1", "kind": "pressure", "unit": "m"})])
    users = UserStore(tmp_path / "users.sqlite")
    key = users.add_user("watcher", "operator")
    users.set_password("watcher", PASSWORD)
    proc = launch(
        "serve", "--store", url, "--users-db", tmp_path / "users.sqlite", "--port", port,
        env={"TIRTA_POLL_S": "1", **PYPATH},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {key}"}
    http_ok(f"{base}/api/v1/status", headers, proc)
    page = browser.new_page()
    streams: list[str] = []
    page.route("**/api/v1/stream", lambda route: (streams.append(route.request.url), route.abort()))
    _login(page, base, "/sensors")
    wait_js(page, "document.body.dataset.live === 'off'", 20)
    at = (pd.Timestamp.now(tz="UTC") - pd.Timedelta(hours=1)).isoformat()
    got = httpx.post(
        f"{base}/api/v1/readings",
        json={"sensor": "n1", "t": at, "v": 41.5, "unit": "m"},
        headers=headers,
    )
    assert got.json()["accepted"] == 1, got.text
    row = "document.querySelector('#sensors tr[data-id=\"n1\"] [data-f=value]')?.textContent"
    wait_js(page, f"{row} === '41.500'", 20)
    assert streams and page.evaluate("document.body.dataset.pushed") is None  # polled, not pushed
    page.close()
    assert proc.interrupt(timeout_s=20) == 0, proc.output


def test_status_page_follows_mqtt_ingestion(tmp_path, launch, port, http_ok, browser, mosquitto):
    """Readings published to the broker, committed by the server's MQTT service, move the open status
    page (connection, reading count, readings per minute) with polling at 10 minutes."""
    import json

    import paho.mqtt.client as mqtt

    from tirta.telemetry.ingest.mqtt import parse_broker_url

    url = f"duckdb:///{tmp_path / 'live.duckdb'}"
    with open_store(url) as store:
        store.add_sensors([make_sensor({"id": "n1", "kind": "pressure", "unit": "m"})])
    users = UserStore(tmp_path / "users.sqlite")
    key = users.add_user("watcher", "viewer")
    users.set_password("watcher", PASSWORD)
    proc = launch(
        "serve", "--store", url, "--users-db", tmp_path / "users.sqlite", "--port", port,
        "--mqtt", mosquitto.url, env={"TIRTA_POLL_S": "600", **PYPATH},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    http_ok(f"{base}/api/v1/status", {"Authorization": f"Bearer {key}"}, proc)
    page = browser.new_page()
    _login(page, base, "/status")
    wait_js(page, "document.body.dataset.live === 'on'", 30)
    assert page.inner_text("#st-size").startswith("0 readings")
    assert mosquitto.url in page.inner_text("#mqtt")
    host, mport, _ = parse_broker_url(mosquitto.url)
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="pub-live")
    pub.connect(host, mport)
    pub.loop_start()
    n = 20
    for i in range(n):
        msg = {"sensor": "n1", "t": (T0 + pd.Timedelta(minutes=i)).isoformat(), "v": 30.0, "unit": "m"}
        pub.publish("tirta/n1/readings", json.dumps(msg), qos=1).wait_for_publish(5)
    pub.loop_stop()
    pub.disconnect()
    wait_js(page, f"document.getElementById('st-size')?.textContent.startsWith('{n} readings')", 30)
    mqtt_rows = page.inner_text("#mqtt")
    assert "connected\tyes" in mqtt_rows, mqtt_rows
    per_minute = page.eval_on_selector_all("#per-minute td", "tds => tds.map(t => +t.textContent)")
    assert sum(per_minute) == n and page.inner_text("#st-rate") == str(n)
    assert page.inner_text("#st-latest") == "2024-03-01 06:19:00"
    assert proc.interrupt(timeout_s=20) == 0, proc.output
    page.close()
