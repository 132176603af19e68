"""Events in each user's display units in real headless Chromium: a user with MLD flows and one with US
units see the open leak's size (2.5 L/s) and water lost in their units on /events, again after the
page's own refresh brings a new customer event, and on /events/N."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from browser import login, serve, wait_js
from tirta.api import api_settings, create_app
from tirta.api.prefs import set_units
from tirta.leaks.customers import CustomerAlert, open_customer_events

from .conftest import add_users

pytestmark = [pytest.mark.slow, pytest.mark.service]
GAL = 3.785411784e-3  # m³ per US gallon
GPM = GAL / 60.0  # m³/s per US gallon a minute
SIZE_SI = 2.5e-3  # m³/s, the web store's open leak


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def _cells(page: Any, eid: int) -> list[str]:
    texts: list[str] = (
        page.locator(f"#events tbody tr:has(a[href='/events/{eid}'])").locator("td").all_inner_texts()
    )
    return texts


def test_events_pages_in_mld_and_us_units(
    browser: Any, web_store: tuple[str, Path, int], tmp_path: Path
) -> None:
    shutil.copy(web_store[0].removeprefix("duckdb:///"), tmp_path / "store.duckdb")
    cfg = api_settings(
        store_url=f"duckdb:///{tmp_path / 'store.duckdb'}", users_db=tmp_path / "u.sqlite", env={}
    )
    add_users(cfg.users_db)
    app = create_app(cfg)
    leak = web_store[2]
    with serve(app) as base:
        store = app.state.tirta.store  # the users' choices, as PUT /api/v1/me/units stores them
        set_units(store, "viewer-1", "metric,flow=MLD", cfg.display_units)
        set_units(store, "operator-1", "us", cfg.display_units)
        errors: list[str] = []
        pages = {
            user: login(browser, base, user, next_path="/events", errors=errors)
            for user in ("viewer-1", "operator-1", "admin-1")
        }
        lost_m3 = pages["admin-1"].evaluate(
            f"fetch('/api/v1/events/{leak}').then((r) => r.json()).then((e) => e.water_lost_m3)"
        )
        assert lost_m3 > 0
        expect = {  # flow unit, size, volume unit, water lost, loss-a-day unit
            "viewer-1": ("MLD", SIZE_SI * 86.4, "m3", lost_m3, "m3/day"),
            "operator-1": ("gpm", SIZE_SI / GPM, "gal", lost_m3 / GAL, "gal/day"),
            "admin-1": ("m3/s", SIZE_SI, "m3", lost_m3, "m3/day"),
        }

        def check(user: str) -> None:
            page = pages[user]
            flow, size, volume, lost, loss = expect[user]
            assert page.inner_text("#unit-flow") == flow and page.inner_text("#unit-volume") == volume
            assert page.inner_text("#unit-loss") == loss
            cells = _cells(page, leak)
            assert len(cells) == 12, cells
            assert _number(cells[8]) == pytest.approx(size, rel=1e-3), (user, cells)
            assert _number(cells[11]) == pytest.approx(lost, abs=0.5), (user, cells)

        for user in pages:
            check(user)

        # a customer leak of 0.1 m³/day filed while the pages are open: their refresh shows it
        at = pd.Timestamp("2020-12-31T11:00Z")
        alert = CustomerAlert("c0077", "customer_leak", at, at, 0.1, 0.2, 4.2, "n105")
        (eid,), _ = open_customer_events(store, [alert], tariff_per_m3=2.0)
        for user, page in pages.items():
            wait_js(page, f"document.querySelector(\"#events a[href='/events/{eid}']\") !== null")
            check(user)  # the refreshed rows, in the same units
            cells = _cells(page, eid)
            assert len(cells) == 12 and cells[5] == "c0077", cells
            per_day = 0.1 / GAL if user == "operator-1" else 0.1
            assert _number(cells[6]) == pytest.approx(per_day, abs=5e-4), (user, cells)

        for user, page in pages.items():
            flow, size, volume, lost, _ = expect[user]
            page.goto(f"{base}/events/{leak}")
            assert page.inner_text("#unit-flow") == flow and page.inner_text("#unit-volume") == volume
            assert _number(page.inner_text("#size")) == pytest.approx(size, rel=1e-3), user
            assert _number(page.inner_text("#water-lost")) == pytest.approx(lost, abs=0.5), user
        assert not errors, errors
        for page in pages.values():
            page.close()
