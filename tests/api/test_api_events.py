"""Leak events through the API: list, detail with candidates and history, the lifecycle by role."""

from __future__ import annotations

import pandas as pd
import pytest

from tirta.leaks.events import open_event


@pytest.fixture
def event_id(api) -> int:
    """An open event on the app's own store: 2.5 L/s, two candidate pipes."""
    store = api.client.app.state.tirta.store
    return open_event(
        store,
        detected_at=pd.Timestamp("2021-01-10T06:00Z"),
        start=pd.Timestamp("2021-01-10T00:00Z"),
        size_lps=2.5,
        candidates=[{"pipe": "p101", "score": 0.9}, {"pipe": "p102", "score": 0.4}],
        dma="A",
    )


def _act(api, event_id: int, action: str, role: str, note: str | None = None):
    body = {"note": note} if note is not None else None
    return api.client.post(f"/api/v1/events/{event_id}/{action}", json=body, headers=api.headers(role))


def test_list_and_detail(api, event_id):
    page = api.client.get("/api/v1/events", headers=api.headers("viewer")).json()
    assert page["total"] == 1
    item = page["items"][0]
    assert item["id"] == event_id and item["status"] == "open" and item["pipe"] == "p101"
    assert item["candidates"] == 2
    detail = api.client.get(f"/api/v1/events/{event_id}", headers=api.headers("viewer")).json()
    assert [c["pipe"] for c in detail["candidates"]] == ["p101", "p102"]
    assert detail["history"][0]["status"] == "open"
    assert detail["size_lps"] == 2.5 and detail["dma"] == "A"
    empty = api.client.get("/api/v1/events", params={"status": "closed"}, headers=api.headers("viewer"))
    assert empty.json()["total"] == 0


def test_full_lifecycle_is_audited_with_the_user(api, event_id):
    for action, status in [
        ("acknowledge", "acknowledged"),
        ("dispatch", "dispatched"),
        ("repair", "repaired"),
        ("close", "closed"),
    ]:
        r = _act(api, event_id, action, "operator", note=f"{action} done")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == status
    history = api.client.get(f"/api/v1/events/{event_id}", headers=api.headers("viewer")).json()[
        "history"
    ]
    assert [h["status"] for h in history] == ["open", "acknowledged", "dispatched", "repaired", "closed"]
    assert {h["who"] for h in history[1:]} == {"operator-1"}
    assert history[-1]["note"] == "close done"
    # water lost: 2.5 L/s from the start to the repair
    detail = api.client.get(f"/api/v1/events/{event_id}", headers=api.headers("viewer")).json()
    assert detail["repaired_at"] is not None and detail["water_lost_m3"] > 0


def test_false_alarm_and_moves_not_allowed(api, event_id):
    assert _act(api, event_id, "close", "operator").status_code == 409
    r = _act(api, event_id, "false-alarm", "operator", note="valve left open")
    assert r.json()["status"] == "false_alarm" and r.json()["water_lost_m3"] == 0
    again = _act(api, event_id, "acknowledge", "operator")
    assert again.status_code == 409
    assert (
        again.json()["error"]["type"] == "conflict" and "false_alarm" in again.json()["error"]["message"]
    )


def test_a_viewer_cannot_move_an_event(api, event_id):
    for action in ("acknowledge", "dispatch", "repair", "close", "false-alarm"):
        r = _act(api, event_id, action, "viewer")
        assert r.status_code == 403, action
        assert r.json()["error"]["type"] == "forbidden"
    detail = api.client.get(f"/api/v1/events/{event_id}", headers=api.headers("viewer")).json()
    assert detail["status"] == "open" and len(detail["history"]) == 1


def test_unknown_event_is_404_and_unknown_action_422(api, event_id):
    r = api.client.get("/api/v1/events/9999", headers=api.headers("viewer"))
    assert r.status_code == 404
    assert r.json() == {
        "error": {"type": "not_found", "message": "no event with id 9999", "field": "event_id"}
    }
    r = _act(api, event_id, "explode", "operator")
    assert r.status_code == 422 and r.json()["error"]["type"] == "validation_error"


def test_public_kpis_count_open_leaks_without_a_key(api, event_id, tmp_path):
    r = api.client.get("/api/v1/public/kpis")
    assert r.status_code == 200
    body = r.json()
    assert body["open_leaks"] == 1 and body["open_leaks_water_lost_m3"] > 0
    assert body["nrw_pct"] is None  # no published audit configured
    assert "operator" not in r.text and "who" not in body
    _act(api, event_id, "false-alarm", "operator")
    assert api.client.get("/api/v1/public/kpis").json()["open_leaks"] == 0
