"""The waste page and the public waste block: server-rendered with the sample city and engine telemetry
in a real DuckDB store, then drawn in real headless Chromium (charts, band, actual points, screenshot)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from browser import log_in, serve, wait_js
from tirta.api import api_settings, create_app
from tirta.telemetry.store import Store, open_store
from tirta.waste import load_landfill
from tirta.waste.operations import engine_sensors, synthetic_engine_readings

from .conftest import ROOT, add_users, prepare_store

SAMPLE = ROOT / "src" / "tirta" / "data" / "waste"
CITY = SAMPLE / "city.toml"


def add_engines(st: Store, days: str = "2025-01-01") -> None:
    """The sample landfill's engine sensors and hourly telemetry for 2024 up to ``days``."""
    lf = load_landfill(SAMPLE / "mamak.toml")
    st.add_sensors(engine_sensors(lf))
    result = st.ingest(synthetic_engine_readings(lf, "2024-01-01", days, seed=3), source="engines")
    assert result.quarantined == 0


def test_waste_page_server_side(make_web):
    with make_web(waste_file=CITY) as web:
        add_engines(web.client.app.state.tirta.store, "2024-03-01")
        client = web.login("viewer")
        page = client.get("/waste")
        assert page.status_code == 200
        html = page.text
        assert 'href="/waste" class="on"' in html and "Mamak (Ankara), sample" in html
        assert 'data-site="cankaya-mrf"' in html and "no engine telemetry" not in html
        assert '<script src="/static/waste.js" defer>' in html
        for url in (
            "/sensors",
            "/sensors/mamak_a_kw",
            "/api/v1/dashboard/sensors",
            "/api/v1/network/map",
        ):
            assert client.get(url).status_code == 200, url  # engine sensors sit beside the network's
        public = client.get("/public").text
        assert 'id="public-waste"' in public and "(2025)" in public


def test_waste_page_without_configuration(web):
    client = web.login("viewer")
    html = client.get("/waste").text
    assert "TIRTA_WASTE_FILE" in html and 'id="page-data"' not in html
    assert 'id="public-waste"' not in client.get("/public").text


def test_waste_page_needs_login(web):
    r = web.client.get("/waste", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


@pytest.fixture(scope="module")
def waste_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("waste-browser")
    url = f"duckdb:///{tmp / 'store.duckdb'}"
    prepare_store(url)
    with open_store(url) as st:
        add_engines(st, "2026-01-01")
    cfg = api_settings(store_url=url, users_db=tmp / "users.sqlite", waste_file=CITY, env={})
    add_users(cfg.users_db)
    with serve(create_app(cfg)) as base:
        yield base


@pytest.mark.slow
@pytest.mark.service
def test_waste_page_in_chromium(browser: Any, waste_server: str, tmp_path: Path):
    page = browser.new_page(viewport={"width": 1300, "height": 1700})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    log_in(page, waste_server, "viewer-1", next_path="/waste")
    wait_js(page, "document.getElementById('power-chart-0')?.dataset.drawn === '1'")
    wait_js(page, "document.getElementById('streams-chart')?.dataset.drawn === '1'")
    traces = page.evaluate(
        "['streams-chart', 'gas-chart-0', 'power-chart-0'].map((id) => document.getElementById(id).data.length)"
    )
    assert traces == [5, 4, 4]  # 4 categories + diversion; band (2) + model + actual
    # the band is drawn filled and the actual years sit inside it
    power = page.evaluate("document.getElementById('power-chart-0').data.map((t) => [t.name, t.x, t.y])")
    actual = {x: y for x, y in zip(power[3][1], power[3][2], strict=True)}
    low = dict(zip(power[0][1], power[0][2], strict=True))
    high = dict(zip(power[1][1], power[1][2], strict=True))
    assert sorted(actual) == [2024, 2025]
    for year, mw in actual.items():
        assert low[year] * 0.9 < mw < high[year]
    assert page.locator(".operations tbody tr").count() == 2
    assert page.locator("svg.main-svg .trace.bars").count() >= 1  # Plotly drew SVG bars
    # docs/screenshots only when asked (TIRTA_UPDATE_SCREENSHOTS=1): a test run leaves the tree clean
    shots = (
        ROOT / "docs" / "screenshots" if os.environ.get("TIRTA_UPDATE_SCREENSHOTS") == "1" else tmp_path
    )
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "waste.png"), full_page=True)
    assert errors == []
    page.goto(f"{waste_server}/public")
    wait_js(page, "document.getElementById('public-waste') !== null")
    text = page.inner_text("#public-waste")
    assert "recycled or composted" in text and "MWh (2025)" in text and "(illustrative)" in text
    mwh = float(page.inner_text("#pw-mwh").replace(",", ""))
    assert 100_000 < mwh < 250_000  # two blocks, ~20 MW for a year
    page.screenshot(path=str(shots / "public-waste.png"), full_page=True)
    page.close()
    assert errors == []
