"""Dashboard pages over a real store: every page for a logged-in user, login redirects, role-checked
event buttons, the map figure, sensors with flags and quarantine, balance and the public page."""

from __future__ import annotations

import pandas as pd
import pytest

from tirta.api.auth import SESSION_COOKIE, csrf_for

from .conftest import csrf_of

PAGES = ["/", "/map", "/sensors", "/sensors/n1", "/events", "/events/{id}", "/balance"]


@pytest.mark.parametrize("path", PAGES)
def test_pages_need_a_login(web, path):
    r = web.client.get(path.format(id=web.event_id), follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=/")


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_every_page_renders_for_a_logged_in_user(web, role):
    web.login(role)
    for path in PAGES:
        r = web.client.get(path.format(id=web.event_id))
        assert r.status_code == 200, (path, r.text[:300])
        assert f"{role}-1" in r.text and "/static/tirta.js" in r.text
    public = web.client.get("/public")
    assert public.status_code == 200


def test_public_page_without_login_has_no_personal_data(web):
    r = web.client.get("/public")
    assert r.status_code == 200
    assert "How much water we lose" in r.text and "Staff login" in r.text
    for private in ("operator-1", "viewer-1", "p101", "amr_", str(web.settings.users_db)):
        assert private not in r.text
    assert web.client.get("/api/v1/public/nrw-trend").status_code == 200


def test_overview_shows_open_leaks_and_water_lost(web):
    web.login("viewer")
    data = web.client.get("/api/v1/dashboard/overview").json()
    assert data["kpis"]["open_leaks"] == 1
    # 2.5 L/s from 02:00 to the latest reading 11:55
    assert data["kpis"]["water_lost_month_m3"] == pytest.approx(2.5e-3 * (9 * 3600 + 55 * 60), abs=0.1)
    assert data["trend"] and data["trend"][-1]["period"] == "2020-12"
    assert [e["id"] for e in data["events"]] == [web.event_id]


def _buttons(html: str) -> list[str]:
    return [
        a
        for a in ("acknowledge", "dispatch", "repair", "close", "false-alarm")
        if f'id="btn-{a}"' in html
    ]


def test_viewer_sees_no_buttons_and_cannot_post(web):
    web.login("viewer")
    page = web.client.get(f"/events/{web.event_id}")
    assert _buttons(page.text) == [] and "Viewers cannot change events" in page.text
    for action in ("acknowledge", "false-alarm", "close"):
        r = web.client.post(
            f"/events/{web.event_id}/action", data={"action": action, "csrf": csrf_of(page.text)}
        )
        assert r.status_code == 403, action
    token = web.client.cookies[SESSION_COOKIE]
    api = web.client.post(
        f"/api/v1/events/{web.event_id}/acknowledge", headers={"X-CSRF-Token": csrf_for(token)}
    )
    assert api.status_code == 403
    assert web.client.get(f"/api/v1/events/{web.event_id}").json()["status"] == "open"


def test_operator_walks_the_lifecycle_through_the_forms(web):
    web.login("operator")
    url = f"/events/{web.event_id}"
    page = web.client.get(url)
    assert _buttons(page.text) == ["acknowledge", "false-alarm"]
    steps = [
        ("acknowledge", ["dispatch", "false-alarm"]),
        ("dispatch", ["repair", "false-alarm"]),
        ("repair", ["close"]),
        ("close", []),
    ]
    for action, next_buttons in steps:
        r = web.client.post(
            f"{url}/action",
            data={"action": action, "note": f"{action} by crew 7", "csrf": csrf_of(page.text)},
            follow_redirects=False,
        )
        assert r.status_code == 303 and r.headers["location"] == url
        page = web.client.get(url)
        assert _buttons(page.text) == next_buttons
    detail = web.client.get(f"/api/v1/events/{web.event_id}").json()
    assert [h["status"] for h in detail["history"]] == [
        "open",
        "acknowledged",
        "dispatched",
        "repaired",
        "closed",
    ]
    assert {h["who"] for h in detail["history"][1:]} == {"operator-1"}
    assert "close by crew 7" in page.text
    # a step that is not allowed any more is refused and said on the page
    r = web.client.post(f"{url}/action", data={"action": "acknowledge", "csrf": csrf_of(page.text)})
    assert r.status_code == 200 and "cannot become" in r.text


def test_map_figure_draws_pipes_with_webgl_and_marks_the_event(web):
    web.login("viewer")
    fig = web.client.get("/api/v1/network/map", params={"quantity": "flow"}).json()
    by_name = {t["name"]: t for t in fig["traces"]}
    pipes = by_name["pipes"]
    assert pipes["type"] == "scattergl"
    assert len(pipes["x"]) == 3 * fig["meta"]["links"] and pipes["x"][2] is None
    assert fig["meta"]["links"] == 909 and fig["meta"]["active_events"] == 1
    classes = [t for t in fig["traces"] if t["name"].startswith("class ")]
    assert classes and all(t["type"] == "scattergl" for t in classes)
    assert sum(len(t["x"]) for t in classes) <= len(pipes["x"])
    cand = by_name[f"event {web.event_id} candidates"]
    assert len(cand["x"]) == 6  # two pipes, three points each
    circle = by_name[f"event {web.event_id}: 150 m"]
    xs, ys = pd.Series(circle["x"]), pd.Series(circle["y"])
    assert (xs.max() - xs.min()) == pytest.approx(300, rel=0.01)
    assert (ys.max() - ys.min()) == pytest.approx(300, rel=0.01)
    sensors = by_name["sensors"]
    assert "n1" in sensors["customdata"] and "p227" in sensors["customdata"]
    svg = web.client.get("/api/v1/network/map", params={"gl": "false", "quantity": "none"}).json()
    assert {t["type"] for t in svg["traces"]} == {"scatter"}
    assert web.client.get("/api/v1/network/map", params={"quantity": "heat"}).status_code == 422


def test_map_with_a_projected_crs_is_drawn_in_lon_lat(tmp_path, web_store):
    """A DMA file declaring a projected CRS (web Mercator, true to scale near 0°N 0°E) turns model
    coordinates into longitude/latitude with the same extent in metres."""
    from fastapi.testclient import TestClient

    from tirta.api import api_settings, create_app
    from tirta.network.model import builtin_network_path

    toml = builtin_network_path("l-town").with_name("L-TOWN.dmas.toml").read_text(encoding="utf-8")
    dmas = tmp_path / "dmas.toml"
    dmas.write_text(toml.replace('name = "A"', 'name = "A"\ncrs = "EPSG:3857"', 1), encoding="utf-8")
    cfg = api_settings(store_url=web_store[0], users_db=tmp_path / "u.sqlite", dmas=dmas, env={})
    from .conftest import add_users

    keys = add_users(cfg.users_db)
    app = create_app(cfg)
    with TestClient(app) as client:
        r = client.get("/api/v1/network/map", headers={"X-API-Key": keys["viewer"]})
    fig = r.json()
    assert fig["meta"]["crs"] == "EPSG:3857" and fig["meta"]["geographic"]
    xs = [v for v in fig["traces"][0]["x"] if v is not None]
    ys = [v for v in fig["traces"][0]["y"] if v is not None]
    net = client.app.state.tirta.model()[0]
    width_m = net.nodes["x"].max() - net.nodes["x"].min()
    height_m = net.nodes["y"].max() - net.nodes["y"].min()
    assert (max(xs) - min(xs)) * 111_319.5 == pytest.approx(width_m, rel=0.01)
    assert (max(ys) - min(ys)) * 110_574 == pytest.approx(height_m, rel=0.02)
    assert fig["layout"]["yaxis"]["scaleratio"] == pytest.approx(1.0, abs=0.01)


def test_sensor_page_shows_flags_and_quarantine(web):
    store = web.client.app.state.tirta.store
    store.add_flags(
        pd.DataFrame(
            {
                "sensor": ["n1"],
                "start": [pd.Timestamp("2020-12-18T03:00Z")],
                "end": [pd.Timestamp("2020-12-18T04:00Z")],
                "kind": ["stuck"],
                "detail": ["flat for 1 h"],
            }
        )
    )
    web.login("viewer")
    body = "sensor,time,value,unit\nn1,2020-12-18T05:00:00Z,not-a-number,m\n"
    posted = web.client.post(
        "/api/v1/readings",
        content=body,
        headers={"Authorization": f"Bearer {web.keys['operator']}", "content-type": "text/csv"},
    )
    assert posted.json()["quarantined"] == 1
    data = web.client.get("/api/v1/dashboard/sensors/n1").json()
    assert data["flags"][0]["kind"] == "stuck" and data["quarantined"] == 1
    assert len(data["time"]) == 144 and data["value"][0] == pytest.approx(28.92)
    page = web.client.get("/sensors/n1")
    assert "flat for 1 h" in page.text
    table = web.client.get("/api/v1/dashboard/sensors").json()
    n1 = next(s for s in table["sensors"] if s["id"] == "n1")
    assert n1["flags"] == 1 and n1["quarantined"] == 1 and n1["value"] is not None
    assert web.client.get("/sensors/nope").status_code == 404


def test_balance_page_table_and_diagram(web):
    web.login("viewer")
    page = web.client.get("/balance", params={"dma": "C", "from": "2020-12", "to": "2020-12"})
    assert page.status_code == 200
    assert "<svg" in page.text and "System input volume" in page.text and "± 95 %" in page.text
    missing = web.client.get("/balance", params={"dma": "C", "from": "2021-03", "to": "2021-03"})
    assert missing.status_code == 200 and "no readings of the inflow meters" in missing.text
