"""In real headless Chromium (issue 19 parts 4 and 5): a failed API call shows its error on the page
(``/map?at=garbage`` used to leave an empty white panel, the 400 only in the console), and the KPI
warnings stay beside their numbers when the page polls."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from browser import login, serve, wait_js
from tirta.api import api_settings, create_app
from tirta.network.model import builtin_network_path

from .conftest import add_users, prepare_store

pytestmark = [pytest.mark.slow, pytest.mark.service]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The L-Town slice, DMA C given 3,000 connections (82 AMR meters: a 2.7 % sample), no billing."""
    tmp = tmp_path_factory.mktemp("browser-errors")
    url = f"duckdb:///{tmp / 'store.duckdb'}"
    prepare_store(url)
    dmas = tmp / "L-TOWN.dmas.toml"
    src = builtin_network_path("l-town").with_name("L-TOWN.dmas.toml").read_text(encoding="utf-8")
    dmas.write_text(src.replace("connections = 92", "connections = 3000"), encoding="utf-8")
    cfg = api_settings(
        store_url=url, users_db=tmp / "users.sqlite", dmas=dmas, env={"TIRTA_POLL_S": "1"}
    )
    add_users(cfg.users_db)
    with serve(create_app(cfg)) as base:
        yield base


def _login(browser: Any, base: str) -> Any:
    return login(browser, base, "viewer-1", viewport={"width": 1300, "height": 900})


def test_a_failed_api_call_shows_its_error_on_the_page(server: str, browser: Any, tmp_path: Path):
    page = _login(browser, server)
    page.goto(server + "/map?at=garbage")
    wait_js(page, "document.getElementById('api-error')?.textContent.length > 0")
    shown = page.inner_text("#api-error")
    assert "400" in shown and "expected an RFC 3339 time" in shown and "(at)" in shown
    assert page.is_visible("#api-error")
    # a good time clears it and draws the map
    page.fill("#at", "2020-12-18T06:00:00Z")
    page.click("#map-controls button[type=submit]")
    wait_js(page, "document.getElementById('map')?.dataset.drawn")
    wait_js(page, "document.getElementById('api-error')?.hidden === true")
    page.screenshot(path=str(tmp_path / "map-error.png"))


def test_kpi_warnings_stay_beside_their_numbers_while_the_page_polls(server: str, browser: Any):
    page = _login(browser, server)
    warn = "document.querySelector('[data-w=\"kpis.warnings.nrw_pct\"]')"
    assert page.is_visible("[data-w='kpis.warnings.nrw_pct']")
    wait_js(page, "document.getElementById('updated')?.textContent.startsWith('updated')")
    text = page.evaluate(f"{warn}.textContent")
    assert "extrapolated from 82 meters" in text and "outside 0–100 %" in text
    assert page.evaluate(f"!{warn}.hidden")
    colours = page.evaluate("document.getElementById('trend')._fullData[0].marker.color")
    assert colours == ["#c0392b"] or colours == "#c0392b" or "#c0392b" in colours  # flagged month

    page.goto(server + "/public")
    wait_js(page, "document.getElementById('updated')?.textContent.startsWith('updated')")
    assert "extrapolated" in page.inner_text("#withheld")
    assert page.evaluate("document.getElementById('trend')._fullData[0].y.every(v => v === null)")
