"""Honest numbers on every page (issue 19 part 4): a DMA whose consumption is extrapolated from 82 AMR
meters to 3,000 connections (no billing file) gives an impossible NRW; the overview, the balance page,
the HTML report and the API carry the warnings next to the numbers, and the public page withholds them
with the reason."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tirta.api import services
from tirta.network import load_dmas, load_network
from tirta.network.model import builtin_network_path
from tirta.reports.balance import dma_html
from tirta.telemetry.store import open_store

AUDIT_BAD = """\
[system]
mains_length_km = 10
connections = 3000
private_pipe_length_km = 0
average_pressure_m = 40
days = 30

[volumes]
own_sources = 1000
imported = 0
exported = 0
billed_metered = 5000
billed_unmetered = 0
unbilled_metered = 0
customer_meter_under_registration_pct = 2
"""


@pytest.fixture
def big_dmas(tmp_path: Path) -> Path:
    """L-Town's DMA file with DMA C given 3,000 connections (its 82 AMR meters become a 2.7 % sample)."""
    src = builtin_network_path("l-town").with_name("L-TOWN.dmas.toml")
    text = src.read_text(encoding="utf-8").replace("connections = 92", "connections = 3000")
    out = tmp_path / "L-TOWN.dmas.toml"
    out.write_text(text, encoding="utf-8")
    return out


@pytest.fixture
def bad_audit(tmp_path: Path) -> Path:
    path = tmp_path / "audit.toml"
    path.write_text(AUDIT_BAD, encoding="utf-8")
    return path


def _kpi_warn(html: str) -> list[str]:
    return re.findall(r'<ul class="kpi-warn"[^>]*>(.*?)</ul>', html, flags=re.S)


def test_overview_shows_each_flagged_kpi_with_its_warning(make_web, big_dmas):
    with make_web(dmas=big_dmas) as web:
        web.login("viewer")
        data = web.client.get("/api/v1/dashboard/overview").json()
        warnings = data["kpis"]["warnings"]
        assert data["kpis"]["nrw_pct"] < 0  # the number stays, for the staff ...
        assert any("DMA C: consumption extrapolated from 82 meters" in w for w in warnings["nrw_pct"])
        assert any("outside 0–100 %" in w for w in warnings["nrw_pct"])
        assert any("real losses are negative" in w for w in warnings["real_losses_m3"])
        assert data["trend"][-1]["kpi_warnings"]["nrw_pct"]
        html = web.client.get("/").text  # ... with its warnings beside it
        lists = _kpi_warn(html)
        assert len(lists) == 2 and all("extrapolated" in li for li in lists)


def test_balance_page_shows_the_warnings_beside_nrw_ili_and_losses(make_web, big_dmas):
    with make_web(dmas=big_dmas) as web:
        web.login("viewer")
        html = web.client.get("/balance", params={"dma": "C", "from": "2020-12", "to": "2020-12"}).text
        lists = _kpi_warn(html)
        assert len(lists) == 3  # NRW, ILI, real losses per connection
        assert all("2.7 % metered, below 10 %" in li for li in lists)
        assert "below the technical minimum" in lists[1] or "negative" in lists[1]
        assert 'class="num flagged"' in html  # the month's flagged cells


def test_public_page_withholds_flagged_kpis_with_the_reason(make_web, big_dmas):
    with make_web(dmas=big_dmas) as web:
        trend = web.client.get("/api/v1/public/nrw-trend").json()
        assert trend[-1]["nrw_pct"] is None
        assert any("extrapolated" in w for w in trend[-1]["withheld"])
        html = web.client.get("/public").text
        assert "withheld:" in html and "extrapolated from 82 meters" in html
        assert not re.search(r"<b>\s*-[\d,]+\.\d\s*</b>", html)  # no negative NRW anywhere


def test_public_kpis_of_an_impossible_audit_are_withheld(make_web, bad_audit):
    with make_web(audit_file=bad_audit) as web:
        body = web.client.get("/api/v1/public/kpis").json()
        assert body["nrw_pct"] is None and body["ili"] is None and body["real_losses_m3"] is None
        assert any("outside 0–100 %" in w for w in body["withheld"]["nrw_pct"])
        assert "withheld: real losses are negative" in web.client.get("/public").text


def test_the_html_report_carries_the_kpi_warnings(web_store, big_dmas):
    inp = builtin_network_path("l-town")
    net = load_network(inp)
    with open_store(web_store[0]) as store:
        report = services.dma_report(
            store, (net, load_dmas(big_dmas, net)), "C", "2020-12", "2020-12", "wbi_developing"
        )
    html = dma_html(report)
    assert "2020-12: nrw_pct: consumption extrapolated from 82 meters" in html
    assert "⚠" in html
