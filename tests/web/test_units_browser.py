"""Display units per user in real headless Chromium: two users choose their units on the settings page
and see the same p227 reading in their own units on the sensors table and the sensor chart, and the
open event's size in them on the overview."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from browser import login, serve, wait_js
from tirta.api import api_settings, create_app

from .conftest import add_users

pytestmark = [pytest.mark.slow, pytest.mark.service]
GPM = 3.785411784e-3 / 60.0  # m³/s per US gallon a minute


@pytest.fixture(scope="module")
def base(web_store: tuple[str, Path, int], tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("units")
    shutil.copy(web_store[0].removeprefix("duckdb:///"), tmp / "store.duckdb")
    cfg = api_settings(
        store_url=f"duckdb:///{tmp / 'store.duckdb'}", users_db=tmp / "users.sqlite", env={}
    )
    add_users(cfg.users_db)
    with serve(create_app(cfg)) as url:
        yield url


def _choose(page: Any, base: str, label: str) -> None:
    page.goto(base + "/settings")
    page.select_option("#units", label=label)
    page.click("#units-save")
    page.wait_for_url(base + "/settings")


def _p227(page: Any, base: str) -> tuple[float, str]:
    page.goto(base + "/sensors")
    row = page.locator("#sensors tr[data-id='p227']")
    return float(row.locator("[data-f=value]").inner_text().replace(",", "")), row.locator(
        "[data-f=unit]"
    ).inner_text()


def test_two_users_see_one_reading_in_their_units(browser: Any, base: str) -> None:
    errors: list[str] = []
    viewer = login(browser, base, "viewer-1", next_path="/settings", errors=errors)
    operator = login(browser, base, "operator-1", next_path="/settings", errors=errors)
    si = login(browser, base, "admin-1", next_path="/sensors", errors=errors)  # no choice: SI
    _choose(viewer, base, "metric with flows in MLD (megalitres a day) ")
    _choose(operator, base, "US: gpm, psi, ft, gal")
    assert (
        viewer.inner_text("td[data-q=flow]") == "MLD" and operator.inner_text("td[data-q=flow]") == "gpm"
    )

    value_si, unit_si = _p227(si, base)
    value_v, unit_v = _p227(viewer, base)
    value_o, unit_o = _p227(operator, base)
    assert (unit_si, unit_v, unit_o) == ("m3/s", "MLD", "gpm")
    exact = viewer.evaluate(  # the stored SI value, as the page's own JSON gives it
        "fetch('/api/v1/dashboard/sensors').then((r) => r.json())"
        ".then((d) => d.sensors.find((s) => s.id === 'p227').value_si)"
    )
    assert value_si == pytest.approx(exact, abs=5e-4)  # 3 decimals shown
    assert value_v == pytest.approx(exact * 86.4, abs=5e-4)
    assert value_o == pytest.approx(exact / GPM, abs=5e-4)

    # the chart: its axis names the unit, its first point is the same reading in each user's units
    for page, column in ((viewer, "p227_flow_mld"), (operator, "p227_flow_gpm"), (si, "p227_flow_m3s")):
        page.goto(base + "/sensors/p227?days=1")
        wait_js(page, "document.querySelector('#series')?._fullData?.[0]?.y?.length > 100")
        assert page.evaluate("document.querySelector('#series').layout.yaxis.title.text") == column
    first = [
        p.evaluate("document.querySelector('#series')._fullData[0].y[0]") for p in (viewer, operator, si)
    ]
    assert first[0] == pytest.approx(first[2] * 86.4, rel=1e-5)
    assert first[1] == pytest.approx(first[2] / GPM, rel=1e-5)

    # the overview: the open event's size (2.5 L/s) in each user's flow unit, 4 significant digits
    for page, unit, size in (
        (viewer, "MLD", 2.5e-3 * 86.4),
        (operator, "gpm", 2.5e-3 / GPM),
        (si, "m3/s", 2.5e-3),
    ):
        page.goto(base + "/")
        assert page.inner_text("#unit-flow") == unit
        cell = page.locator("#open-events tbody tr").first.locator("td").nth(4).inner_text()
        assert float(cell.replace(",", "")) == pytest.approx(size, rel=1e-3), (unit, cell)
    assert not errors, errors
    for p in (viewer, operator, si):
        p.close()
