"""Customer-side alerts on the events page and in the API: kind, customer, loss per day and cost."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from browser import login, serve, wait_js
from tirta.api import api_settings, create_app
from tirta.leaks.customers import CustomerAlert, open_customer_events

from .conftest import add_users


def test_events_page_and_api_show_a_customer_leak_with_its_loss_and_cost(web):
    store = web.client.app.state.tirta.store
    at = pd.Timestamp("2020-12-31T11:00Z")
    alert = CustomerAlert("c0042", "customer_leak", at, at, 0.288, 0.576, 12.0, "n105")
    (eid,), _ = open_customer_events(store, [alert], tariff_per_m3=2.0)
    client = web.login("viewer")
    html = client.get("/events").text
    row = html[html.index(f'href="/events/{eid}"') :].split("</tr>")[0]
    assert "customer leak" in row and "c0042" in row and "0.288" in row and "0.58" in row
    leak_row = html[html.index(f'href="/events/{web.event_id}"') :].split("</tr>")[0]
    assert "c0042" not in leak_row and ">leak<" in leak_row
    item = next(e for e in client.get("/api/v1/events").json()["items"] if e["id"] == eid)
    assert item["kind"] == "customer_leak" and item["pipe"] is None
    assert item["customer"]["loss_m3_day"] == 0.288 and item["customer"]["cost_per_day"] == 0.576
    assert item["customer"]["node"] == "n105" and item["customer"]["tariff_per_m3"] == 2.0


def test_overview_counts_network_leaks_apart_from_customer_events(web):
    store = web.client.app.state.tirta.store
    at = pd.Timestamp("2020-12-31T11:00Z")
    alert = CustomerAlert("c0042", "customer_leak", at, at, 0.288, 0.576, 12.0, "n105")
    open_customer_events(store, [alert], tariff_per_m3=2.0)
    kpis = web.login("viewer").get("/api/v1/dashboard/overview").json()["kpis"]
    assert kpis["open_leaks"] == 1 and kpis["open_customer_events"] == 1
    assert web.client.get("/api/v1/public/kpis").json()["open_leaks"] == 1


@pytest.mark.slow
@pytest.mark.service
def test_events_page_refresh_keeps_every_column_in_chromium(browser, web_store, tmp_path):
    """A customer event filed while the page is open appears through the page's own refresh (pushed or
    polled), with the same 12 cells as the server-rendered rows (the refresh once wrote 8)."""
    shutil.copy(web_store[0].removeprefix("duckdb:///"), tmp_path / "store.duckdb")
    cfg = api_settings(
        store_url=f"duckdb:///{tmp_path / 'store.duckdb'}", users_db=tmp_path / "u.sqlite", env={}
    )
    add_users(cfg.users_db)
    app = create_app(cfg)
    with serve(app) as base:
        errors: list[str] = []
        page = login(browser, base, "viewer-1", next_path="/events", errors=errors)
        cells = page.locator("#events tbody tr").first.locator("td").count()
        at = pd.Timestamp("2020-12-31T11:00Z")
        alert = CustomerAlert("c0077", "reverse_flow", at, at, 0.1, 0.2, 4.2, "n105")
        (eid,), _ = open_customer_events(app.state.tirta.store, [alert], tariff_per_m3=2.0)
        wait_js(page, f"document.querySelector(\"#events a[href='/events/{eid}']\") !== null")
        row = page.locator(f"#events tbody tr:has(a[href='/events/{eid}'])")
        texts = row.locator("td").all_inner_texts()
        assert cells == len(texts) == 12, texts
        assert texts[4] == "reverse flow" and texts[5] == "c0077" and texts[6] == "0.100", texts
        assert not errors, errors
