"""Events in each user's display units at the API level and on the pages: size, water lost and a
customer's loss a day in a ``display`` section beside the SI fields (which stay as they are), the
pages' columns naming the unit. The web fixture's open leak is 2.5 L/s."""

from __future__ import annotations

import pandas as pd
import pytest

from tirta.leaks.customers import CustomerAlert, open_customer_events

from .conftest import Web

GAL = 3.785411784e-3  # m³ per US gallon
GPM = GAL / 60.0  # m³/s per US gallon a minute
SIZE_SI = 2.5e-3  # m³/s, the fixture's leak


def _h(web: Web, role: str) -> dict[str, str]:
    return {"X-API-Key": web.keys[role]}


def _customer_event(web: Web) -> int:
    """A customer leak of 0.288 m³/day at 2 a m³ (0.576 a day)."""
    at = pd.Timestamp("2020-12-31T11:00Z")
    alert = CustomerAlert("c0042", "customer_leak", at, at, 0.288, 0.576, 12.0, "n105")
    (eid,), _ = open_customer_events(web.client.app.state.tirta.store, [alert], tariff_per_m3=2.0)
    return int(eid)


def _choose(web: Web) -> None:
    for role, units in (("viewer", "metric,flow=MLD"), ("operator", "us")):
        r = web.client.put("/api/v1/me/units", json={"units": units}, headers=_h(web, role))
        assert r.status_code == 200, r.text


def test_events_api_in_each_users_units_beside_si(web: Web) -> None:
    cid = _customer_event(web)
    _choose(web)
    got = {
        role: {
            e["id"]: e for e in web.client.get("/api/v1/events", headers=_h(web, role)).json()["items"]
        }
        for role in ("viewer", "operator", "admin")
    }
    si, mld, us = got["admin"][web.event_id], got["viewer"][web.event_id], got["operator"][web.event_id]
    for e in (mld, us):  # the SI-named fields as they were, for every user
        assert {k: e[k] for k in ("size_lps", "water_lost_m3", "customer")} == {
            k: si[k] for k in ("size_lps", "water_lost_m3", "customer")
        }
    assert si["size_lps"] == pytest.approx(2.5) and si["water_lost_m3"] > 0
    assert si["display"]["units"] == {"flow": "m3/s", "volume": "m3", "loss": "m3/day"}
    assert mld["display"]["units"] == {"flow": "MLD", "volume": "m3", "loss": "m3/day"}
    assert us["display"]["units"] == {"flow": "gpm", "volume": "gal", "loss": "gal/day"}
    assert si["display"]["size"] == pytest.approx(SIZE_SI, rel=1e-9)
    assert mld["display"]["size"] == pytest.approx(SIZE_SI * 86.4, rel=1e-9)  # 0.216 MLD
    assert us["display"]["size"] == pytest.approx(SIZE_SI / GPM, rel=1e-9)  # 39.63 gpm
    assert mld["display"]["water_lost"] == pytest.approx(si["water_lost_m3"], rel=1e-9)
    assert us["display"]["water_lost"] == pytest.approx(si["water_lost_m3"] / GAL, rel=1e-9)
    assert si["display"]["loss_per_day"] is None  # a network leak has no customer

    cust_us, cust_si = got["operator"][cid], got["admin"][cid]
    assert cust_us["customer"]["loss_m3_day"] == 0.288
    assert cust_us["display"]["size"] == pytest.approx(cust_si["size_lps"] * 1e-3 / GPM, rel=1e-9)
    assert cust_us["display"]["loss_per_day"] == pytest.approx(0.288 / GAL, rel=1e-9)  # 76.08 gal/day
    assert cust_si["display"]["loss_per_day"] == pytest.approx(0.288, rel=1e-9)

    one = web.client.get(f"/api/v1/events/{web.event_id}", headers=_h(web, "viewer")).json()
    assert one["display"] == mld["display"] and one["size_lps"] == si["size_lps"]
    acted = web.client.post(
        f"/api/v1/events/{web.event_id}/acknowledge", json={}, headers=_h(web, "operator")
    )
    assert acted.status_code == 200, acted.text
    assert acted.json()["display"]["units"]["flow"] == "gpm"
    assert acted.json()["display"]["size"] == pytest.approx(SIZE_SI / GPM, rel=1e-9)


def _row(html: str, eid: int) -> str:
    return html[html.index(f'href="/events/{eid}"') :].split("</tr>")[0]


def test_events_pages_in_each_users_units(web: Web) -> None:
    cid = _customer_event(web)
    _choose(web)
    lost_m3 = web.client.get(f"/api/v1/events/{web.event_id}", headers=_h(web, "admin")).json()[
        "water_lost_m3"
    ]
    for role, flow, volume, loss, size, lost, per_day in (
        ("viewer", "MLD", "m3", "m3/day", "0.216", lost_m3, "0.288"),
        ("operator", "gpm", "gal", "gal/day", "39.63", lost_m3 / GAL, "76.082"),
        ("admin", "m3/s", "m3", "m3/day", "0.0025", lost_m3, "0.288"),
    ):
        client = web.login(role)
        html = client.get("/events").text
        assert f'<span id="unit-flow">{flow}</span>' in html, role
        assert f'<span id="unit-volume">{volume}</span>' in html
        assert f'<span id="unit-loss">{loss}</span>' in html
        cells = _row(html, web.event_id).split('<td class="num">')
        assert cells[3].startswith(size + "<"), (role, cells)
        assert cells[5].startswith(f"{lost:,.0f}<"), (role, cells)
        assert _row(html, cid).split('<td class="num">')[1].startswith(per_day + "<"), role
        detail = client.get(f"/events/{web.event_id}").text
        assert f'<b id="size">{size}</b>' in detail and f'<span id="unit-flow">{flow}</span>' in detail
        assert f'<b id="water-lost">{lost:,.0f}</b>' in detail
        assert f'<span id="unit-volume">{volume}</span>' in detail
