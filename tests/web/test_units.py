"""Display units per user at the API level: each user's choice is a record of the store, the JSON of
readings and sensors is in it (unit-named columns), the deployment default applies to the others, and
the store keeps SI. L-Town slice: p227 reads 84.73 m³/h at 2020-12-18 00:00 (Flows.csv)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tirta.api.prefs import PREFS
from tirta.telemetry.store import open_store

from .conftest import Web

P227_M3H = 84.73  # tests/fixtures/telemetry/l-town-slice/Flows.csv, first row
P227_SI = P227_M3H / 3600.0
GPM = 3.785411784e-3 / 60.0  # m³/s per US gallon a minute
READ = "/api/v1/readings?sensors=p227,n1&from=2020-12-18T00:00:00Z&to=2020-12-18T00:05:00Z"


def _h(web: Web, role: str) -> dict[str, str]:
    return {"X-API-Key": web.keys[role]}


def _p227_row(web: Web, role: str) -> dict[str, Any]:
    r = web.client.get("/api/v1/dashboard/sensors", headers=_h(web, role))
    assert r.status_code == 200, r.text
    return next(s for s in r.json()["sensors"] if s["id"] == "p227")


def test_each_user_reads_in_their_own_units(web: Web) -> None:
    c = web.client
    mine = c.get("/api/v1/me/units", headers=_h(web, "viewer")).json()
    assert mine == {
        "user": "viewer-1",
        "units": "si",
        "own": False,
        "default": "si",
        "shown": {"pressure": "m", "level": "m", "flow": "m3/s", "volume": "m3", "length": "m"},
    }
    r = c.put("/api/v1/me/units", json={"units": "metric,flow=MLD"}, headers=_h(web, "viewer"))
    assert r.status_code == 200, r.text
    assert r.json()["own"] and r.json()["shown"]["flow"] == "MLD"
    r = c.put("/api/v1/me/units", json={"units": "us"}, headers=_h(web, "operator"))
    assert r.json()["shown"] == {
        "pressure": "psi",
        "level": "ft",
        "flow": "gpm",
        "volume": "gal",
        "length": "ft",
    }

    viewer = c.get(READ, headers=_h(web, "viewer")).json()
    operator = c.get(READ, headers=_h(web, "operator")).json()
    admin = c.get(READ, headers=_h(web, "admin")).json()  # no choice: the deployment's SI
    assert viewer["columns"] == {"p227": "p227_flow_mld", "n1": "n1_pressure_m"}
    assert viewer["units"] == {"p227": "MLD", "n1": "m"}
    assert operator["columns"] == {"p227": "p227_flow_gpm", "n1": "n1_pressure_psi"}
    assert admin["columns"] == {"p227": "p227_flow_m3s", "n1": "n1_pressure_m"}
    v, o, a = viewer["items"][0], operator["items"][0], admin["items"][0]
    assert a["p227_flow_m3s"] == pytest.approx(P227_SI, rel=1e-9)
    assert v["p227_flow_mld"] == pytest.approx(P227_M3H * 24 / 1000, rel=1e-9)  # 2.03352 MLD
    assert o["p227_flow_gpm"] == pytest.approx(P227_SI / GPM, rel=1e-9)  # 373.05 gpm
    assert o["n1_pressure_psi"] == pytest.approx(a["n1_pressure_m"] / 0.70307, rel=1e-9)

    long = c.get(READ + "&layout=long", headers=_h(web, "viewer")).json()
    assert {(i["sensor"], round(i["value"], 5)) for i in long["items"]} >= {("p227", 2.03352)}

    rows = {role: _p227_row(web, role) for role in ("viewer", "operator", "admin")}
    assert rows["viewer"]["unit"] == "MLD" and rows["viewer"]["display_column"] == "p227_flow_mld"
    assert rows["operator"]["unit"] == "gpm" and rows["admin"]["unit"] == "m3/s"
    for row in rows.values():  # the same reading, SI beside it
        assert row["value_si"] == rows["admin"]["value"]
    assert rows["viewer"]["value"] == pytest.approx(rows["admin"]["value"] * 86.4, rel=1e-9)

    series = c.get("/api/v1/dashboard/sensors/p227?days=1", headers=_h(web, "operator")).json()
    assert series["unit"] == "gpm" and series["display_column"] == "p227_flow_gpm"
    si = c.get("/api/v1/dashboard/sensors/p227?days=1", headers=_h(web, "admin")).json()
    assert series["value"][0] == pytest.approx(si["value"][0] / GPM, rel=1e-5)

    with open_store(web.settings.store_url) as store:  # kept with the user; readings stay SI
        assert store.get_record(PREFS, "viewer-1").value == {"units": "metric,flow=MLD"}  # type: ignore[union-attr]
        first = store.read(["p227"], "2020-12-18T00:00Z", "2020-12-18T00:01Z")["p227"].iloc[0]
        assert first == pytest.approx(P227_SI, rel=1e-9)

    r = c.put("/api/v1/me/units", json={"units": ""}, headers=_h(web, "viewer"))  # back to the default
    assert r.json()["own"] is False and r.json()["units"] == "si"


def test_unknown_units_are_refused_with_the_field(web: Web) -> None:
    r = web.client.put("/api/v1/me/units", json={"units": "flow=furlongs"}, headers=_h(web, "viewer"))
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["field"] == "units" and "furlongs" in error["message"]
    assert error["type"] == "unknown_units"
    r = web.client.put("/api/v1/me/units", json={"units": "metric"})
    assert r.status_code == 401


def test_deployment_default_for_users_without_a_choice(make_web: Callable[..., Iterator[Web]]) -> None:
    with make_web(display_units="metric,flow=m3/h") as web:
        row = _p227_row(web, "admin")  # the latest reading
        assert row["unit"] == "m3/h" and row["value"] == pytest.approx(row["value_si"] * 3600, rel=1e-9)
        web.client.put("/api/v1/me/units", json={"units": "si"}, headers=_h(web, "viewer"))
        mine = _p227_row(web, "viewer")
        assert mine["unit"] == "m3/s" and mine["value"] == row["value_si"]
        first = web.client.get(READ, headers=_h(web, "admin")).json()["items"][0]
        assert first["p227_flow_m3h"] == pytest.approx(P227_M3H, rel=1e-9)
        got = web.client.get("/api/v1/me/units", headers=_h(web, "admin")).json()
        assert got["own"] is False and got["default"] == "metric,flow=m3/h"


def test_settings_form_sets_units_for_the_logged_in_user(web: Web) -> None:
    from .conftest import csrf_of

    client = web.login("operator")
    page = client.get("/settings")
    assert page.status_code == 200 and 'id="units-form"' in page.text
    r = client.post(
        "/settings",
        data={"units": "metric,flow=m3/d", "custom": "", "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert 'data-q="flow">m3/d<' in client.get("/settings").text
    bad = client.post(
        "/settings", data={"units": "", "custom": "flow=parsecs", "csrf": csrf_of(page.text)}
    )
    assert "parsecs" in bad.text and 'id="units-error"' in bad.text
    forged = client.post("/settings", data={"units": "us", "csrf": "nope"}, follow_redirects=False)
    assert forged.status_code == 403
    sensors = client.get("/sensors").text
    assert "m3/d" in sensors


def test_map_json_in_the_users_units(web: Web) -> None:
    c = web.client
    c.put("/api/v1/me/units", json={"units": "us"}, headers=_h(web, "operator"))

    def figure(role: str, quantity: str) -> dict[str, Any]:
        r = c.get(f"/api/v1/network/map?quantity={quantity}", headers=_h(web, role))
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        return out

    def colour(fig: dict[str, Any]) -> dict[str, Any]:
        return next(t for t in fig["traces"] if t.get("marker", {}).get("colorbar"))

    us, si = figure("operator", "flow"), figure("admin", "flow")
    assert colour(us)["name"] == "flow (gpm)" and colour(si)["name"] == "flow (m³/s)"
    big = max(colour(si)["marker"]["color"])
    assert max(colour(us)["marker"]["color"]) == pytest.approx(big / GPM, rel=2e-3)
    sensors = next(t for t in figure("operator", "pressure")["traces"] if t["name"] == "sensors")
    assert any(t.startswith("n1 (pressure): ") and t.endswith(" psi") for t in sensors["text"])
    assert colour(figure("operator", "pressure"))["name"] == "pressure (psi)"


def test_map_json_over_tiles(make_web: Callable[..., Iterator[Web]]) -> None:
    url = "https://tiles.example/{z}/{x}/{y}.png"
    with make_web(map_tiles=url, map_crs="EPSG:3857", map_attribution="© example") as web:
        fig = web.client.get("/api/v1/network/map", headers=_h(web, "viewer")).json()
        assert {t["type"] for t in fig["traces"]} == {"scattermap"}
        pipes = next(t for t in fig["traces"] if t["name"] == "pipes")
        assert len(pipes["lon"]) == len(pipes["lat"]) > 2000 and "x" not in pipes
        source = fig["layout"]["map"]["style"]["sources"]["basemap"]
        assert source["tiles"] == [url] and source["attribution"] == "© example"
        assert fig["meta"]["basemap"] == {"attribution": "© example"}
        csp = web.client.get("/login").headers["content-security-policy"]
        assert (
            "img-src 'self' https://tiles.example" in csp
            and "connect-src 'self' https://tiles.example" in csp
        )


def test_no_tiles_without_the_models_crs(make_web: Callable[..., Iterator[Web]]) -> None:
    url = "https://tiles.example/{z}/{x}/{y}.png"
    with make_web(map_tiles=url) as web:  # L-Town's DMA file declares no CRS: no place for the tiles
        fig = web.client.get("/api/v1/network/map", headers=_h(web, "viewer")).json()
        assert "scattermap" not in {t["type"] for t in fig["traces"]} and fig["meta"]["basemap"] is None
        assert any("TIRTA_MAP_CRS" in n for n in fig["meta"]["notices"])


def test_overview_in_the_users_units(web: Web) -> None:
    c = web.client
    c.put("/api/v1/me/units", json={"units": "us"}, headers=_h(web, "operator"))
    us = c.get("/api/v1/dashboard/overview", headers=_h(web, "operator")).json()
    si = c.get("/api/v1/dashboard/overview", headers=_h(web, "admin")).json()
    assert us["display"]["units"] == {"flow": "gpm", "volume": "gal"}
    assert si["display"]["units"] == {"flow": "m3/s", "volume": "m3"}
    assert us["kpis"] == si["kpis"]  # the SI-named figures stay as they are
    event = us["display"]["events"][0]
    assert event["id"] == web.event_id and event["size"] == pytest.approx(
        2.5e-3 / GPM, rel=1e-9
    )  # 39.6 gpm
    lost = si["events"][0]["water_lost_m3"]
    assert event["water_lost"] == pytest.approx(lost / 3.785411784e-3, rel=1e-9)
    assert si["display"]["events"][0]["size"] == pytest.approx(2.5e-3, rel=1e-9)
    page = web.login("operator").get("/").text
    assert '<th id="unit-flow">gpm</th>' in page and "39.63" in page
