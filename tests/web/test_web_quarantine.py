"""The quarantine review page in headless Chromium: an operator sees rejected readings by reason with
their file line, registers nothing yet and drops one row, then releases the rest after the fix;
a viewer sees no buttons. Every action lands in the audit log on the page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from browser import login, wait_js
from tirta.network.sensors import make_sensor
from tirta.telemetry.ingest import ingest_file
from tirta.telemetry.store import open_store

from .conftest import add_users

pytestmark = pytest.mark.service


@pytest.fixture
def live_web(postgres_db: str, tmp_path: Path) -> Iterator[tuple[object, str]]:
    """The dashboard on uvicorn over a PostgreSQL store (so the test can write to it alongside)."""
    import threading
    import time

    import uvicorn

    from services import free_port
    from tirta.api import api_settings, create_app

    cfg = api_settings(store_url=postgres_db, users_db=tmp_path / "users.sqlite", env={})
    add_users(cfg.users_db)
    port = free_port()
    srv = uvicorn.Server(
        uvicorn.Config(create_app(cfg), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield SimpleNamespace(settings=cfg), f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=15)


CSV = "sensor,time,value,unit\nzz,2024-01-01T00:05:00Z,2.5,bar\nzz,2024-01-01T00:10:00Z,2.6,bar\nq9,2024-01-01T00:10:00Z,1,m\n"


def test_operator_drops_and_releases(browser, live_web, tmp_path: Path) -> None:
    web, base = live_web
    path = tmp_path / "late.csv"
    path.write_text(CSV, encoding="utf-8")
    with open_store(web.settings.store_url) as store:
        ingest_file(store, path, now=pd.Timestamp("2024-02-01", tz="UTC"))
    page = login(browser, base, "operator-1")
    page.goto(f"{base}/quarantine?reason=unknown+sensor")
    assert page.locator("#rows tbody tr").count() == 3
    assert "late.csv" in page.inner_text("#rows") and re.search(r"\b2\b", page.inner_text("#rows"))
    page.locator("#rows tbody tr", has_text="q9").locator("input[type=checkbox]").check()
    page.fill("input[name=note]", "test logger, never installed")
    page.click("#btn-drop")
    wait_js(page, "document.getElementById('done')?.textContent.includes('dropped 1')")
    with open_store(web.settings.store_url) as store:
        store.add_sensors([make_sensor({"id": "zz", "kind": "pressure", "unit": "bar"})])
    page.fill("input[name=note]", "logger zz registered")
    page.click("#btn-release")  # nothing ticked: every row of the filter
    wait_js(page, "document.getElementById('done')?.textContent.includes('2 stored')")
    assert page.locator("#rows tbody tr").count() == 0
    audit = page.inner_text("#audit")
    assert "operator-1" in audit and "logger zz registered" in audit and "drop" in audit
    page.close()


def test_viewer_sees_no_buttons(browser, live_web) -> None:
    _, base = live_web
    page = login(browser, base, "viewer-1")
    page.goto(f"{base}/quarantine")
    assert page.locator("#btn-release").count() == 0 and "Viewers can look" in page.inner_text("main")
    page.close()
