"""The live feed without a browser: snapshot diffs and the hub's messages over a real DuckDB store."""

from __future__ import annotations

import time

import pandas as pd

from tirta.leaks.events import open_event
from tirta.network.sensors import make_sensor
from tirta.telemetry.store import open_store
from tirta.web.live import LiveHub, Snapshot, changes
from tirta.web.statusdata import status_data

T0 = pd.Timestamp("2024-03-01 06:00", tz="UTC")


def _raw(at: pd.Timestamp, value: float) -> pd.DataFrame:
    return pd.DataFrame({"sensor": ["n1"], "time": [at], "value": [value], "unit": ["m"]})


def test_changes_name_only_what_moved():
    job = {"runs": 1, "running": False, "last_error": None, "disabled": None, "last_start": "x"}
    a = Snapshot(10, T0, {1: {"id": 1, "status": "open"}}, {"detect": job})
    assert [n for n, _ in changes(None, a)] == ["reading", "event", "job"]
    assert changes(a, a) == []
    b = Snapshot(10, T0, {1: {"id": 1, "status": "acknowledged"}, 2: {"id": 2, "status": "open"}}, {})
    got = changes(a, b)
    assert [(n, d["id"], d["change"]) for n, d in got] == [
        ("event", 1, "changed"),
        ("event", 2, "opened"),
    ]
    c = Snapshot(11, T0, b.events, {"detect": {**job, "runs": 2, "last_error": "boom"}})
    assert [n for n, _ in changes(b, c)] == ["reading", "job"]


def test_hub_publishes_commits_events_and_ingestion(tmp_path):
    with open_store(f"duckdb:///{tmp_path / 's.duckdb'}") as store:
        store.add_sensors([make_sensor({"id": "n1", "kind": "pressure", "unit": "m"})])
        hub = LiveHub(store)
        first = hub.tick()
        assert [m.name for m in first] == ["reading"] and first[0].data["readings"] == 0
        assert hub.tick() == []  # nothing moved
        store.ingest(_raw(T0, 40.0), source="t")
        store.ingest(_raw(T0 + pd.Timedelta(minutes=1), 41.0), source="t")
        (msg,) = hub.tick()
        assert msg.name == "reading" and msg.seq == 2
        assert msg.data["readings"] == 2 and msg.data["latest"] == "2024-03-01T06:01:00Z"
        assert msg.data["kinds"] == {"pressure": {"latest": "2024-03-01T06:01:00Z", "sensors": 1}}
        assert msg.data["since_commit_s"] is not None and msg.data["rate_per_min"] > 0
        eid = open_event(store, detected_at=T0, start=T0, size_lps=1.5, candidates=[], dma="A")
        (ev,) = hub.tick()
        assert (ev.name, ev.data["id"], ev.data["change"], ev.data["status"]) == (
            "event", eid, "opened", "open",
        )  # fmt: skip
        store.set_event_status(eid, "acknowledged", who="op")
        assert hub.tick()[0].data["change"] == "changed"
        assert [m.seq for m in hub.since(2)] == [3, 4]
        status = status_data(hub, store)
        assert status["jobs"] == {} and status["mqtt"] is None and status["runtime"] is False
        assert status["store"]["counts"]["readings"] == 2 and status["store"]["file_bytes"] > 0
        assert status["ingestion"]["latest"] == "2024-03-01T06:01:00Z"
        assert sum(status["ingestion"]["per_minute"]) == 2


def test_hub_thread_runs_while_watched_and_stops_idle_or_closed(tmp_path):
    store = open_store(f"duckdb:///{tmp_path / 's.duckdb'}")
    store.add_sensors([make_sensor({"id": "n1", "kind": "pressure", "unit": "m"})])
    hub = LiveHub(store, tick_s=0.05, idle_s=0.5)
    hub.touch()
    store.ingest(_raw(T0, 40.0), source="t")
    deadline = time.monotonic() + 5
    while not any(m.data.get("readings") == 1 for m in hub.since(0)):
        assert time.monotonic() < deadline, hub.last_error
        time.sleep(0.05)
    thread = hub._thread
    assert thread is not None and thread.is_alive()
    thread.join(3)  # nobody touched it for idle_s
    assert not thread.is_alive()
    hub.touch()
    assert hub._thread.is_alive()
    hub.stop()  # what the app does before it closes the store
    assert not hub._thread.is_alive()
    hub.touch()  # a late listener starts nothing
    assert not hub._thread.is_alive()
    store.close()


def test_status_page_and_json_need_a_viewer(web):
    """Without the serve runtime (``create_app`` alone): no jobs, no MQTT; the store's figures."""
    r = web.client.get("/status", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/status"
    assert web.client.get("/api/v1/dashboard/status").status_code == 401
    got = web.client.get(
        "/api/v1/dashboard/status", headers={"Authorization": f"Bearer {web.keys['viewer']}"}
    ).json()
    assert got["runtime"] is False and got["jobs"] == {} and got["mqtt"] is None
    assert got["store"]["counts"]["readings"] > 0 and got["store"]["file_bytes"] > 0
    assert got["ingestion"]["latest"] is not None and got["ingestion"]["since_commit_s"] is None
    web.login("viewer")
    page = web.client.get("/status")
    assert page.status_code == 200 and 'href="/status" class="on"' in page.text
    assert '<script src="/static/live.js">' in page.text and 'id="page-data"' in page.text


def test_stream_needs_a_viewer_and_is_documented_as_server_sent_events(web):
    """The contract the fuzzer cannot read (the stream never ends): 401 without a key; the OpenAPI
    document says text/event-stream. Its messages reaching a page: tests/server/test_serve_live.py."""
    assert web.client.get("/api/v1/stream").status_code == 401
    spec = web.client.get("/api/v1/openapi.json").json()
    assert list(spec["paths"]["/api/v1/stream"]["get"]["responses"]["200"]["content"]) == [
        "text/event-stream"
    ]
