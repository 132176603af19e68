"""Open data: the public API and page show every published indicator with period, data-validity grade and
history; CSV/JSON downloads of the KPIs and of monthly NRW per DMA carry a licence; nothing identifies a
customer or a meter (checked against the store's sensor ids, the model's node ids and the billing accounts)."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from browser import wait_js
from tirta.api import api_settings, create_app
from tirta.cli import main
from tirta.kpis import INDICATORS
from tirta.network import load_network, load_sensors
from tirta.network.model import builtin_network_path

DATA = Path(__file__).resolve().parents[2] / "src" / "tirta" / "data" / "kpis"
ACCOUNTS = [f"ACC-{i:04d}-PRIVATE" for i in range(6)]
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "public-kpis.png"
DOWNLOADS = ("kpis.csv", "kpis.json", "dma-nrw.csv", "dma-nrw.json")


@pytest.fixture
def history(tmp_path: Path) -> Path:
    """A directory of two periods: A's 2025 and its 2024 (less sold water, so more NRW)."""
    d = tmp_path / "kpis"
    d.mkdir()
    shutil.copy(DATA / "example-a.toml", d / "2025.toml")
    text = (DATA / "example-a.toml").read_text().replace("2025-", "2024-")
    (d / "2024.toml").write_text(text.replace("v_sold = 340e6", "v_sold = 320e6"))
    return d


@pytest.fixture
def billing(tmp_path: Path) -> Path:
    """Billing with account ids that must never be published."""
    path = tmp_path / "billing.csv"
    rows = [f"{a},C,2020-12,{10 + i},yes" for i, a in enumerate(ACCOUNTS)]
    path.write_text("account,dma,period,billed_m3,metered\n" + "\n".join(rows) + "\n")
    return path


def _identifiers() -> set[str]:
    """Every id that could point at a customer: sensors and AMR meters, model nodes and links, accounts."""
    inp = builtin_network_path("l-town")
    sensors = load_sensors(inp.with_name("sensors.json")).to_frame()
    net = load_network(inp)
    ids = set(sensors["id"]) | set(net.nodes.index) | set(net.links.index)
    return {str(i) for i in ids} | set(ACCOUNTS)


def _strings(doc: Any) -> Iterator[str]:
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(doc, list):
        for v in doc:
            yield from _strings(v)
    elif isinstance(doc, str):
        yield doc


def test_public_api_has_every_indicator_and_downloads_have_a_licence_and_no_customer_data(
    make_web: Callable[..., Any], history: Path, billing: Path
) -> None:
    with make_web(kpis_file=history, billing=billing) as web:
        ids = _identifiers()
        assert ACCOUNTS[0] in ids and len(ids) > 700
        body = web.client.get("/api/v1/public/kpis").json()
        assert set(body["indicators"]) == {i.id for i in INDICATORS}
        assert body["kpi_period"] == {"from": "2025-01-01", "to": "2025-12-31", "days": 365}
        assert body["indicators"]["ILI"]["value"] == pytest.approx(34.1567, abs=1e-4)
        assert body["data_validity"]["score"] == pytest.approx(60.0)
        assert [h["from"] for h in body["history"]] == ["2024-01-01", "2025-01-01"]
        assert body["history"][0]["values"]["6.1"] == pytest.approx(100 * 300 / 620)
        assert body["licence"] == "CC-BY-4.0" and "open_leaks" in body
        texts: list[str] = list(_strings(body))
        for name in DOWNLOADS:
            r = web.client.get(f"/api/v1/public/{name}")
            assert r.status_code == 200, name
            assert r.headers["content-disposition"] == f'attachment; filename="{name}"'
            if name.endswith(".csv"):
                rows = list(csv.DictReader(io.StringIO(r.text)))
                assert rows and all(row["licence"] == "CC-BY-4.0" for row in rows), name
                texts += [c for row in rows for c in (*row.keys(), *row.values())]
            else:
                doc = r.json()
                assert doc["licence"] == "CC-BY-4.0"
                texts += list(_strings(doc))
        kpis_rows = list(csv.DictReader(io.StringIO(web.client.get("/api/v1/public/kpis.csv").text)))
        assert len(kpis_rows) == 2 * len(INDICATORS)
        dma = web.client.get("/api/v1/public/dma-nrw.json").json()["months"]
        assert {(m["dma"], m["month"]) for m in dma} >= {("C", "2020-12")}
        c = next(m for m in dma if m["dma"] == "C")
        # billing used (prorated to the hours with readings), summed over the accounts
        assert c["billed_m3"] == pytest.approx(
            sum(10 + i for i in range(6)) * c["data_coverage"], rel=1e-3
        )
        # no value of any public answer or download is a sensor, meter, node or account id
        leaked = {
            t for t in texts for token in t.replace(";", " ").replace("=", " ").split() if token in ids
        }
        assert not leaked, leaked
        assert not any(a in t for t in texts for a in ACCOUNTS)
        assert str(history) not in json.dumps(body)


def test_without_kpi_inputs_the_public_api_still_answers(
    make_web: Callable[..., Any], tmp_path: Path
) -> None:
    with make_web() as web:
        body = web.client.get("/api/v1/public/kpis").json()
        assert body["indicators"] == {} and body["history"] == [] and body["licence"] == "CC-BY-4.0"
        assert "No performance indicators are published yet." in web.client.get("/public").text


def test_a_bad_kpis_file_is_logged_not_shown(make_web: Callable[..., Any], tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text('utility = "x"\nfrom = 2025-01-01\nto = 2024-01-01\n')
    with make_web(kpis_file=broken) as web:  # a bad file is logged, the page shows no server path
        page = web.client.get("/public")
        assert page.status_code == 200 and str(tmp_path) not in page.text


def test_serve_refuses_a_bad_kpis_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "u.toml"
    bad.write_text('utility = "x"\nfrom = 2025-01-01\nto = 2025-12-31\nv_sold = "many"\n')
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "serve",
                "--store",
                f"duckdb:///{tmp_path / 's.duckdb'}",
                "--kpis",
                str(bad),
                "--for",
                "0.1",
            ]
        )
    assert exit_info.value.code == 2
    assert (
        capsys.readouterr().err.strip()
        == f"error: {bad}:4: field 'v_sold': expected a number, got 'many'"
    )


@pytest.fixture
def served(web_store: tuple[str, Path, int], history: Path, tmp_path: Path) -> Iterator[str]:
    """uvicorn serving the app (own copy of the store, KPI history published) on a free loopback port."""
    dst = tmp_path / "served.duckdb"
    shutil.copy(web_store[0].removeprefix("duckdb:///"), dst)
    cfg = api_settings(
        store_url=f"duckdb:///{dst}", users_db=tmp_path / "u.sqlite", kpis_file=history, env={}
    )
    srv = uvicorn.Server(uvicorn.Config(create_app(cfg), host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    port = srv.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=15)


def test_public_page_in_chromium(served: str, browser: Any, tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 1200, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(served + "/public")
    assert "Period 2025-01-01 to 2025-12-31 (365 days)" in page.inner_text("#kpi-period")
    assert page.inner_text("#kpi-validity") == "60/100"
    assert page.locator("#kpi-table tr[data-kpi]").count() == len(INDICATORS)
    row = page.inner_text("#kpi-table tr[data-kpi='ILI']")
    assert "34.1567" in row and "uarl uncertain" in row and "wbi_developing: D" in row
    assert page.get_attribute("#kpi-table tr[data-kpi='6.1'] td:nth-child(2)", "title") == (
        "100·(v_produced − v_exported − v_sold)/(v_produced − v_exported)"
    )
    assert (
        page.inner_text("#kpi-table tr[data-kpi='ILI'] td:nth-child(5)") == "4"
    )  # weakest graded input
    wait_js(page, "document.querySelector('#kpi-history')?._fullData?.length === 4")
    x = page.evaluate("document.getElementById('kpi-history').data[0].x")
    assert x == ["2024-01-01 – 2024-12-31", "2025-01-01 – 2025-12-31"]
    assert "CC-BY-4.0" in page.inner_text("#open-data")
    with page.expect_download() as info:
        page.click("#open-data a[href='/api/v1/public/kpis.csv']")
    path = tmp_path / "kpis.csv"
    info.value.save_as(path)
    assert path.read_text().startswith("utility,from,to,days,id,name,value,unit")
    assert not errors, errors
    page.locator("#open-kpis").scroll_into_view_if_needed()
    shot = (
        SCREENSHOT if os.environ.get("TIRTA_UPDATE_SCREENSHOTS") == "1" else tmp_path / "public-kpis.png"
    )
    page.screenshot(path=str(shot), full_page=True)
    page.close()
