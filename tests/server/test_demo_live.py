"""``tirta demo`` served live: the replay feeds the store, detection opens an event that an operator
sees appear in the dashboard (real Chromium) and takes through its lifecycle; Ctrl-C stops it."""

from __future__ import annotations

import httpx
import pytest

from browser import take_event_to_closed, wait_js

pytestmark = pytest.mark.slow


def test_demo_replay_opens_a_leak_event_while_serving(tmp_path, launch, port, http_ok, browser):
    proc = launch(
        "demo", "--out", tmp_path / "demo", "--days", "3", "--speed", "12000", "--port", port,
        "--detect-every", "2s", "--for", "240",
    )  # fmt: skip
    line = proc.wait_for("demo-operator: dashboard password", timeout_s=120)
    password, key = line.split()[3], line.split()[-1]
    headers = {"Authorization": f"Bearer {key}"}
    assert f"http://127.0.0.1:{port}/" in proc.output and "/api/v1/docs" in proc.output
    base = f"http://127.0.0.1:{port}/api/v1"
    status = http_ok(f"{base}/status", headers, proc).json()
    assert status["replay"]["speed"] == 12000 and status["replay"]["start"].startswith("2021-01-02")
    # an operator logs in to the dashboard and watches the events page while the replay runs
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(f"http://127.0.0.1:{port}/events")
    page.fill("#username", "demo-operator")
    page.fill("#password", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"http://127.0.0.1:{port}/events")
    wait_js(page, "document.querySelectorAll('#events a[href^=\"/events/\"]').length > 0", 120)
    events = httpx.get(f"{base}/events", headers=headers, timeout=10).json()
    assert events["total"] >= 1, proc.output
    first = events["items"][0]
    assert first["status"] == "open" and first["dma"] in ("A", "B", "C") and first["size_lps"] > 0
    assert first["start"] >= "2021-01-02"  # after the calibration day, like the hidden leaks
    status = httpx.get(f"{base}/status", headers=headers, timeout=10).json()
    assert status["jobs"]["detect"]["runs"] >= 1 and status["replay"]["accepted"] > 0
    assert status["replay"]["quarantined"] == 0 and status["replay"]["last_error"] is None
    # the nightly night-flow and balance ran at the replayed 02:30 and is served
    assert status["jobs"]["nightly_balance"]["runs"] >= 1, status["jobs"]
    balance = httpx.get(f"{base}/analytics/balance", headers=headers, timeout=10).json()
    assert "dmas" in balance, (balance, status["jobs"]["nightly_balance"], proc.output[-4000:])
    assert "A" in balance["dmas"] and balance["dmas"]["A"]["nightflow"] is not None
    # the alarm on the map, then acknowledged and taken to closed through the buttons
    page.goto(f"http://127.0.0.1:{port}/map")
    try:
        wait_js(page, "document.getElementById('map')?.dataset.drawn", 120)
    except AssertionError:
        raise AssertionError(f"map not drawn; browser errors: {errors}\n{proc.output}") from None
    names = page.evaluate("document.getElementById('map')._fullData.map(t => t.name)")
    assert any(n.endswith("candidates") for n in names), names
    page.goto(f"http://127.0.0.1:{port}/events/{first['id']}")
    take_event_to_closed(page, "demo: {action}")
    detail = httpx.get(f"{base}/events/{first['id']}", headers=headers, timeout=10).json()
    assert detail["status"] == "closed"
    page.goto(f"http://127.0.0.1:{port}/public")
    assert "NRW" in page.inner_text("body")
    page.close()
    assert proc.interrupt() == 0, proc.output
    assert "alarm event" in proc.output and "stopped" in proc.output
