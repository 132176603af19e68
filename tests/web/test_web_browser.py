"""The dashboard in real headless Chromium against a real uvicorn server over a real DuckDB store:
log in, see the WebGL map, follow an event through its buttons, the balance, the public page."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from browser import serve, take_event_to_closed, wait_js
from tirta.api import api_settings, create_app
from tirta.hydraulics.simulate import SimulationConfig, simulate
from tirta.leaks.events import get_event, open_event
from tirta.network import load_dmas, load_network, load_sensors
from tirta.network.dma import node_to_dma
from tirta.network.model import builtin_network_path
from tirta.telemetry.ingest.files import ingest_file
from tirta.telemetry.quality import detect
from tirta.telemetry.store import open_store

from .conftest import PASSWORD, ROOT, add_users

pytestmark = [pytest.mark.slow, pytest.mark.service]
SHOTS = ROOT / "docs" / "screenshots"


def simulated_store(url: str, tmp: Path) -> int:
    """Eight simulated days of L-Town (one leak, two sensor faults) ingested, quality flags detected and
    stored (plus one known flag on n1), and an event opened on the leak pipe; return the event id."""
    inp = builtin_network_path("l-town")
    sensors_file = inp.with_name("sensors.json")
    cfg = SimulationConfig(
        days=8, leaks=(1, 1), seed=3, start="2021-01-26", repair_probability=0.0, faults=2
    )
    result = simulate(inp, cfg, sensors=load_sensors(sensors_file), out=tmp / "sim")
    net = load_network(inp)
    leak = result.truth.iloc[0]
    pipe = str(leak["linkID"])
    node = net.links.loc[pipe, "start_node"]
    touching = (net.links["start_node"] == node) | (net.links["end_node"] == node)
    others = [str(p) for p in net.links.index[touching] if p != pipe][:2]
    dma = node_to_dma(load_dmas(inp.with_name("L-TOWN.dmas.toml"), net)).get(node)
    with open_store(url) as store:
        ingest_file(store, tmp / "sim", sensors_file=sensors_file)
        ids = [s.id for s in store.sensors().by_kind("pressure")]
        wide = store.read(ids, "2021-01-26", "2021-02-04")
        flags = pd.concat([detect(wide), _known_flag()], ignore_index=True)
        store.add_flags(flags)
        start = pd.Timestamp(leak["start"])
        start = start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC")
        return open_event(
            store,
            detected_at=start + pd.Timedelta(hours=6),
            start=start,
            size_lps=round(float(leak["max_lps"]), 2),
            candidates=[{"pipe": pipe, "score": 0.8}]
            + [{"pipe": p, "score": 0.5 - 0.2 * i} for i, p in enumerate(others)],
            dma=dma,
            radius_m=200.0,
        )


def _known_flag() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sensor": ["n1"],
            "start": [pd.Timestamp("2021-02-02T03:00Z")],
            "end": [pd.Timestamp("2021-02-02T04:30Z")],
            "kind": ["stuck"],
            "detail": ["flat for 90 min"],
        }
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """uvicorn serving create_app (API and dashboard) on a free loopback port, in a thread."""
    tmp = tmp_path_factory.mktemp("browser")
    url = f"duckdb:///{tmp / 'store.duckdb'}"
    event_id = simulated_store(url, tmp)
    cfg = api_settings(store_url=url, users_db=tmp / "users.sqlite", env={"TIRTA_POLL_S": "2"})
    add_users(cfg.users_db)
    app = create_app(cfg)
    with serve(app) as base:
        yield {"base": base, "event_id": event_id, "app": app, "tmp": tmp}


def _palette_pixels(png: bytes) -> int:
    """Pixels of a screenshot within a few levels of the map's pipe colours."""
    import io

    import numpy as np
    from PIL import Image

    from tirta.web.mapdata import _COLOURS

    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=int)
    count = 0
    for colour in _COLOURS:
        target = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
        count += int((np.abs(rgb - target).max(axis=2) <= 12).sum())
    return count


def _shot(page: Any, name: str, tmp: Path) -> None:
    """Screenshots go to docs/screenshots only when TIRTA_UPDATE_SCREENSHOTS=1, else to tmp."""
    target = SHOTS if os.environ.get("TIRTA_UPDATE_SCREENSHOTS") == "1" else tmp
    target.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target / f"{name}.png"), full_page=False)
    assert (target / f"{name}.png").stat().st_size > 10_000


def test_operator_session_in_chromium(server, browser):
    base, event_id, tmp = server["base"], server["event_id"], server["tmp"]
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)

    # not logged in: the dashboard sends us to the login page
    page.goto(base + "/")
    assert page.url.startswith(base + "/login")
    page.fill("#username", "operator-1")
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(base + "/")
    assert page.inner_text("[data-k='kpis.open_leaks']") == "1"
    wait_js(page, "document.querySelector('#trend')?._fullData?.length > 0")
    _shot(page, "overview", tmp)

    # map: pipes drawn as one WebGL trace from the model coordinates
    page.goto(base + "/map")
    wait_js(page, "document.getElementById('map')?.dataset.drawn")
    pipes = page.evaluate(
        "(() => { const t = document.getElementById('map')._fullData.find(t => t.name === 'pipes');"
        " return {type: t.type, points: t.x.filter(v => v !== null).length}; })()"
    )
    assert pipes["type"] == "scattergl" and pipes["points"] > 1000
    assert page.locator("#map canvas").count() > 0  # WebGL draws on canvases
    assert "WebGL is not supported" not in page.inner_text("#map")  # Plotly's fallback notice
    assert _palette_pixels(page.locator("#map").screenshot()) > 2000  # coloured pipes really drawn
    names = page.evaluate("document.getElementById('map')._fullData.map(t => t.name)")
    assert f"event {event_id} candidates" in names and "sensors" in names
    _shot(page, "map", tmp)

    # sensors: the table, then one sensor's chart with its flag
    page.goto(base + "/sensors")
    assert page.locator("#sensors tbody tr").count() > 100
    page.click("#sensors a[href='/sensors/n1']")
    page.wait_for_url(base + "/sensors/n1")
    wait_js(page, "document.querySelector('#series')?._fullData?.[0]?.x?.length > 500")
    assert "flat for 90 min" in page.inner_text("#flags")
    _shot(page, "sensors", tmp)

    # the event: acknowledge, dispatch, repair and close through the buttons
    page.goto(base + "/events")
    page.click(f"#events a[href='/events/{event_id}']")
    page.wait_for_url(base + f"/events/{event_id}")
    take_event_to_closed(
        page,
        "{action} from the browser",
        before_click=lambda action: _shot(page, "events", tmp) if action == "acknowledge" else None,
        timeout_s=60,
    )
    assert page.locator("#actions").count() == 0
    event = get_event(server["app"].state.tirta.store, event_id)
    assert event.status == "closed"
    assert list(event.history["who"])[1:] == ["operator-1"] * 4
    assert "close from the browser" in page.inner_text("#history")

    # balance of DMA C over the simulated months, with its diagram
    page.goto(base + "/balance?dma=C&from=2021-01&to=2021-02")
    assert page.locator("#diagram svg").count() == 1
    assert "System input volume" in page.inner_text("#components")
    _shot(page, "balance", tmp)

    # log out; the transparency page works without a login
    page.click("#logout")
    page.wait_for_url(base + "/login")
    page.goto(base + "/public")
    assert page.url == base + "/public"
    wait_js(page, "document.querySelector('#trend')?._fullData?.length > 0")
    assert page.inner_text("[data-k='open_leaks']") == "0"
    _shot(page, "public", tmp)
    page.goto(base + "/events")
    assert page.url.startswith(base + "/login")
    assert not [e for e in errors if "GL Driver" not in e], errors
