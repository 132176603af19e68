"""Customer-side alerts on the events page and in the API: kind, customer, loss per day and cost."""

from __future__ import annotations

import pandas as pd

from tirta.leaks.customers import CustomerAlert, open_customer_events


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
