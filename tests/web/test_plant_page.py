"""The plant page in real headless Chromium against a real uvicorn server over a DuckDB store with a
plant's telemetry and lab file: log in, follow the nav link, see KPI cards, charts and the exceedance."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from browser import login, serve, wait_js
from tirta.api import api_settings, create_app
from tirta.network.sensors import make_sensor
from tirta.telemetry.store import open_store
from tirta.wastewater import judge, load_effluent_standard, load_lab, open_breach_events

from .conftest import ROOT, add_users

pytestmark = [pytest.mark.slow, pytest.mark.service]

PLANTS = """
[[plant]]
id = "bojong"
name = "IPAL Bojongsoang"
design_flow_m3_d = 2000
design_bod_kg_d = 400
lab = "lab.csv"
sensors = { influent_flow = "bj_q", power = "bj_kw", biogas = "bj_gas" }
"""
LAB = (
    "sample,time,point,parameter,value,unit\n"
    "a,2026-04-10T09:00,influent,COD,500,mg/L\na,2026-04-10T09:00,effluent,COD,50,mg/L\n"
    "b,2026-05-12T09:00,influent,COD,480,mg/L\nb,2026-05-12T09:00,effluent,COD,120,mg/L\n"
    "a,2026-04-10T09:00,influent,BOD5,200,mg/L\na,2026-04-10T09:00,effluent,BOD5,20,mg/L\n"
    "b,2026-05-12T09:00,influent,BOD5,210,mg/L\nb,2026-05-12T09:00,effluent,BOD5,25,mg/L\n"
)


def plant_store(url: str) -> None:
    """Two months of hourly influent flow (1,000 then 1,500 m³/d), 20 kW demand and 100 m³/d biogas."""
    times = pd.date_range("2026-04-01", "2026-06-01", freq="1h", tz="UTC", inclusive="left")
    flow = np.where(times < pd.Timestamp("2026-05-01", tz="UTC"), 1000.0, 1500.0) / 24.0
    raw = pd.concat(
        [
            pd.DataFrame({"sensor": sid, "time": times, "value": values, "unit": unit})
            for sid, values, unit in (
                ("bj_q", flow, "m3/h"),
                ("bj_kw", np.full(len(times), 20.0), "kW"),
                ("bj_gas", np.full(len(times), 100.0 / 24.0), "m3/h"),
            )
        ],
        ignore_index=True,
    )
    with open_store(url) as store:
        store.add_sensors(
            [
                make_sensor({"id": "bj_q", "kind": "flow", "unit": "m3/h"}),
                make_sensor({"id": "bj_kw", "kind": "power", "unit": "kW"}),
                make_sensor({"id": "bj_gas", "kind": "gas_flow", "unit": "m3/h"}),
            ]
        )
        result = store.ingest(raw, source="test", now=pd.Timestamp("2026-06-02", tz="UTC"))
        assert result.accepted == len(raw)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp: Path = tmp_path_factory.mktemp("plant")
    url = f"duckdb:///{tmp / 'store.duckdb'}"
    plant_store(url)
    (tmp / "plants.toml").write_text(PLANTS, encoding="utf-8")
    (tmp / "lab.csv").write_text(LAB, encoding="utf-8")
    with open_store(url) as store:  # the COD breach of sample b opens an event
        std = load_effluent_standard("id-p68-2016")
        assert len(open_breach_events(store, "bojong", judge(load_lab(tmp / "lab.csv"), std))) == 1
    cfg = api_settings(
        store_url=url, users_db=tmp / "users.sqlite", plants_file=tmp / "plants.toml", env={}
    )
    add_users(cfg.users_db)
    app = create_app(cfg)
    with serve(app) as base:
        yield base


def test_plant_page_in_chromium(server: str, browser: Any) -> None:
    errors: list[str] = []
    page = login(browser, server, "viewer-1", viewport={"width": 1400, "height": 900}, errors=errors)
    page.click("nav a[href='/plants']")
    page.wait_for_url(server + "/plants")
    page.click("#plants a[href='/plants/bojong']")
    page.wait_for_url(server + "/plants/bojong")
    assert page.inner_text("h1") == "IPAL Bojongsoang"
    # defaults to the twelve months up to the newest data, which hold April and May 2026
    assert page.locator("#plant-months tbody tr").count() == 2
    may = page.locator("#plant-months tbody tr", has_text="2026-05")
    assert "0.75" in may.inner_text()  # 1,500 of 2,000 m³/d
    # 61 days at 20 kW = 29,280 kWh over 30,000 + 46,500 m³
    assert page.inner_text("[data-kpi='energy_kwh_m3'] b") == "0.383"
    wait_js(page, "document.getElementById('plant-load')?.dataset.drawn")
    bars = page.evaluate("document.getElementById('plant-energy')._fullData.length")
    assert bars == 2
    if os.environ.get("TIRTA_UPDATE_SCREENSHOTS") == "1":  # docs/screenshots/plant.png for the README
        page.screenshot(path=str(ROOT / "docs" / "screenshots" / "plant.png"), full_page=True)
    assert "1 of 2 effluent samples comply" in page.inner_text("#plant-compliance")
    assert "120" in page.inner_text("#plant-exceedances")
    event_row = page.locator("#plant-events tbody tr")
    assert (
        event_row.count() == 1 and "COD" in event_row.inner_text() and "open" in event_row.inner_text()
    )
    page.click("#plant-events a")
    page.wait_for_url(server + "/events/*")
    assert "open" in page.inner_text("main")
    page.goto(server + "/plants/bojong?from=2026-05&to=2026-05")
    assert page.locator("#plant-months tbody tr").count() == 1
    page.goto(server + "/plants/nowhere")
    assert "unknown plant 'nowhere'" in page.inner_text("[role=alert]")
    assert [e for e in errors if "nowhere" not in e] == []
