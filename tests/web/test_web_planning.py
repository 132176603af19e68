"""The planning page in real headless Chromium (uvicorn, DuckDB store): districts coloured by coverage,
the ranked list, and a what-if whose result is drawn on the network map; plus its API and errors."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from browser import login, serve, wait_js
from tirta.api import api_settings, create_app
from tirta.network.model import builtin_network_path

from .conftest import ROOT, add_users

SHOTS = ROOT / "docs" / "screenshots"


@pytest.fixture(scope="module")
def server(web_store: tuple[str, Path, int], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("planning")
    cfg = api_settings(store_url=web_store[0], users_db=tmp / "users.sqlite", env={})
    add_users(cfg.users_db)
    with serve(create_app(cfg)) as base:
        yield base


def test_settings_point_ltown_at_the_illustrative_districts(tmp_path):
    cfg = api_settings(store_url="duckdb:///x.duckdb", env={})
    assert cfg.districts is not None and cfg.districts.name == "l-town-districts.geojson"
    assert cfg.districts.is_file()
    other = api_settings(
        store_url="duckdb:///x.duckdb", env={"TIRTA_NETWORK": "a.inp", "TIRTA_DMAS": "a.toml"}
    )
    assert other.districts is None
    copy = tmp_path / "L-TOWN.inp"  # the demo city's copy of L-Town gets the illustrative districts too
    copy.write_bytes(builtin_network_path("l-town").read_bytes())
    demo = api_settings(store_url="duckdb:///x.duckdb", network=copy, dmas="a.toml", env={})
    assert demo.districts == cfg.districts


def test_planning_api_errors_and_viewer_without_csrf(make_web):
    with make_web() as web:
        key = {"X-API-Key": web.keys["viewer"]}
        bad = web.client.post(
            "/api/v1/planning/extend",
            json={"connections": [{"node": "nope", "households": 5}]},
            headers=key,
        )
        assert bad.status_code in (400, 422) and bad.json()["error"]["field"] == "node"
        neg = web.client.post(
            "/api/v1/planning/extend",
            json={"connections": [{"node": "n54", "households": -5}]},
            headers=key,
        )
        assert neg.status_code == 422
        web.login("viewer")
        no_csrf = web.client.post(
            "/api/v1/planning/extend", json={"connections": [{"node": "n54", "households": 5}]}
        )
        assert no_csrf.status_code == 403


def test_planning_page_without_districts(make_web):
    with make_web() as web:
        web.client.app.state.tirta.settings = dataclasses.replace(web.settings, districts=None)  # type: ignore[attr-defined]
        web.login("viewer")
        page = web.client.get("/planning")
        assert page.status_code == 200 and 'id="no-districts"' in page.text


def test_planning_page_with_a_broken_districts_file(make_web, tmp_path):
    broken = tmp_path / "d.csv"
    broken.write_text("district,population,household_size,piped_connections\nA,,5,1\n", encoding="utf-8")
    with make_web() as web:
        web.client.app.state.tirta.settings = dataclasses.replace(web.settings, districts=broken)  # type: ignore[attr-defined]
        web.login("viewer")
        page = web.client.get("/planning")
        assert page.status_code == 200 and 'id="planning-error"' in page.text
        assert "d.csv:2: field &#39;population&#39;" in page.text


@pytest.mark.slow
@pytest.mark.service
def test_planning_page_in_chromium(server, browser, tmp_path):
    errors: list[str] = []
    page = login(browser, server, "viewer-1", next_path="/planning", errors=errors, responses=False,
                 viewport={"width": 1400, "height": 1000})  # fmt: skip
    assert page.locator("nav a[href='/planning'].on").count() == 1
    assert "illustrative" in page.inner_text("#illustrative")
    wait_js(page, "document.getElementById('district-map')?.dataset.drawn")
    fills: Any = page.evaluate(
        "document.getElementById('district-map')._fullData.filter(t => t.fill === 'toself')"
        ".map(t => [t.name, t.fillcolor])"
    )
    assert len(fills) == 10 and len({c for _, c in fills}) > 5  # coloured by coverage, not one colour
    rows = page.locator("#ranking tbody tr")
    assert rows.count() == 10
    assert rows.nth(9).get_attribute("data-district") == "Cempaka"  # most covered comes last
    _shot(page, "planning", tmp_path)

    # what-if: pick the first ranked district's node, then overload n54 so pressures fail
    page.locator("#ranking a.pick").first.click()
    assert page.input_value("#wi-node") == "n768"  # Tanjung's serving junction, ranked first
    assert page.input_value("#wi-households") == "563"  # its 2,535.5 unserved people / 4.5
    page.fill("#wi-node", "n54")
    page.fill("#wi-households", "20000")
    page.click("#wi-run")
    wait_js(page, "document.getElementById('wi-map')?.dataset.drawn", timeout_s=120)
    assert int(page.get_attribute("#wi-summary", "data-below") or "0") > 0
    names = page.evaluate("document.getElementById('wi-map')._fullData.map(t => t.name)")
    assert {"network", "junctions", "below minimum", "new connections"} <= set(names)
    below = page.evaluate(
        "document.getElementById('wi-map')._fullData.find(t => t.name === 'below minimum').x.length"
    )
    assert below > 0
    star = page.evaluate(
        "document.getElementById('wi-map')._fullData.find(t => t.name === 'new connections').text"
    )
    assert star == ["n54"]
    _shot(page, "planning-whatif", tmp_path)

    # an unknown node is reported on the page, not drawn
    page.fill("#wi-node", "nowhere")
    page.click("#wi-run")
    wait_js(page, "!document.getElementById('wi-error')?.hidden", timeout_s=60)
    assert "nowhere" in page.inner_text("#wi-error")
    assert not [e for e in errors if "422" not in e], errors  # the refused what-if, shown above


def _shot(page: Any, name: str, tmp: Path) -> None:
    """Screenshots go to docs/screenshots only when TIRTA_UPDATE_SCREENSHOTS=1, else to tmp."""
    target = SHOTS if os.environ.get("TIRTA_UPDATE_SCREENSHOTS") == "1" else tmp
    target.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target / f"{name}.png"), full_page=True)
    assert (target / f"{name}.png").stat().st_size > 10_000
