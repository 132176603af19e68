"""The status page in real Chromium over an in-process app with the serve runtime: a scheduled job that
starts failing while the page is open shows its error and failure count, pushed through the stream."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import uvicorn

from browser import login, wait_js
from tirta.api import api_settings, create_app
from tirta.api.users import UserStore
from tirta.network.sensors import make_sensor
from tirta.server.runtime import Runtime
from tirta.server.scheduler import Job
from tirta.server.settings import RuntimeSettings
from tirta.telemetry.store import open_store

pytestmark = [pytest.mark.slow, pytest.mark.service]
PASSWORD = "status-page-pw-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_job_failing_while_watched_shows_its_error(tmp_path, browser):
    url = f"duckdb:///{tmp_path / 'store.duckdb'}"
    with open_store(url) as store:
        store.add_sensors([make_sensor({"id": "n1", "kind": "pressure", "unit": "m"})])
    cfg = api_settings(store_url=url, users_db=tmp_path / "users.sqlite", env={"TIRTA_POLL_S": "600"})
    users = UserStore(cfg.users_db)
    users.add_user("watcher", "viewer")
    users.set_password("watcher", PASSWORD)
    broken = threading.Event()

    def pump_check() -> dict[str, bool]:
        if broken.is_set():
            raise RuntimeError("pump station P3 does not answer")
        return {"ok": True}

    runtime = Runtime(RuntimeSettings(tick_s=0.1))
    runtime.extra_jobs = [Job("pump_check", pump_check, every_s=1.0)]
    app = create_app(cfg, runtime=runtime)
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    page = login(browser, base, "watcher", next_path="/status", password=PASSWORD)
    try:
        wait_js(page, "document.body.dataset.live === 'on'", 30)
        row = "#jobs tr[data-job=pump_check]"
        wait_js(page, f"document.querySelector('{row} td.num')?.textContent >= '1'", 20)
        assert page.locator(f"{row} td.error").count() == 0
        page.evaluate("window.__kept = 1")
        broken.set()
        wait_js(page, f"document.querySelector('{row} td.error')?.textContent.includes('P3')", 20)
        cells = page.eval_on_selector_all(f"{row} td", "tds => tds.map(t => t.textContent)")
        assert cells[6] == "RuntimeError: pump station P3 does not answer" and int(cells[5]) >= 1
        assert page.evaluate("window.__kept") == 1  # pushed, not reloaded
    finally:
        page.close()
        srv.should_exit = True
        thread.join(timeout=30)
    assert not thread.is_alive()
