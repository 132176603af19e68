"""Live pages benchmark: time from a reading committed to the open page showing it, pushed vs polled.

A real ``tirta serve`` (DuckDB store, one pressure sensor) and headless Chromium with two logged-in
``/sensors`` pages: one on the server-sent-event stream (tirta's live pages), one with the stream off
(``?live=0``), refreshing every ``TIRTA_POLL_S`` seconds as the dashboard did before (the baseline).
Each round POSTs one reading to ``/api/v1/readings`` (the answer comes after the commit) at a random
phase of the poll interval; a MutationObserver in each page stamps when the value cell shows it.
Usage: python benchmarks/live.py [--rounds N] [--poll-s S] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from services import free_port  # noqa: E402

PASSWORD = "benchmark password 1"
CELL = "#sensors tr[data-id='n1'] [data-f=value]"
# stamps Date.now() each time the value cell changes (ms since the epoch, the same clock as Python's)
OBSERVE = f"""() => {{
  window.__seen = {{}};
  const cell = document.querySelector("{CELL}");
  new MutationObserver(() => {{ window.__seen[cell.textContent] ??= Date.now(); }})
    .observe(cell, {{ childList: true, characterData: true, subtree: true }});
}}"""


def prepare(tmp: Path) -> tuple[str, str, str]:
    """A DuckDB store with sensor n1 and an operator (password and key); (store URL, users db, key)."""
    from tirta.api.users import UserStore
    from tirta.network.sensors import make_sensor
    from tirta.telemetry.store import open_store

    url = f"duckdb:///{tmp / 'live.duckdb'}"
    with open_store(url) as store:
        store.add_sensors([make_sensor({"id": "n1", "kind": "pressure", "unit": "m"})])
    users = UserStore(tmp / "users.sqlite")
    key = users.add_user("bench", "operator")
    users.set_password("bench", PASSWORD)
    return url, str(tmp / "users.sqlite"), key


def wait_up(base: str, key: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"tirta serve exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/api/v1/status", headers={"Authorization": f"Bearer {key}"}).is_success:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise SystemExit("tirta serve did not answer")


def open_page(browser: Any, base: str, path: str) -> Any:
    page = browser.new_context().new_page()
    page.goto(f"{base}/login?next={path}")
    page.fill("#username", "bench")
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector(CELL)
    page.evaluate(OBSERVE)
    return page


def stats(ms: list[float]) -> dict[str, float]:
    s = sorted(ms)
    return {
        "median_ms": round(statistics.median(s), 1),
        "p90_ms": round(s[min(len(s) - 1, int(0.9 * len(s)))], 1),
        "max_ms": round(s[-1], 1),
    }


def run(rounds: int, poll_s: float) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        url, users, key = prepare(tmp)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {**os.environ, "TIRTA_POLL_S": str(poll_s), "PYTHONPATH": str(ROOT / "src")}
        cmd = [sys.executable, "-m", "tirta", "serve", "--store", url, "--users-db", users]
        proc = subprocess.Popen([*cmd, "--port", str(port)], env=env, cwd=tmp)
        try:
            wait_up(base, key, proc)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
                pushed = open_page(browser, base, "/sensors")
                polled = open_page(browser, base, "/sensors?live=0")
                for _ in range(100):  # the pushed page is on the stream
                    if pushed.evaluate("document.body.dataset.live") == "on":
                        break
                    time.sleep(0.1)
                lat: dict[str, list[float]] = {"pushed": [], "polled": []}
                at0 = time.time() - 3600
                rng = random.Random(20)
                for i in range(rounds):
                    time.sleep(rng.uniform(0.5, poll_s))  # a random phase of the poll interval
                    value = 50.0 + i
                    body = {"sensor": "n1", "t": at0 + i, "v": value, "unit": "m"}
                    got = httpx.post(
                        f"{base}/api/v1/readings", json=body, headers={"Authorization": f"Bearer {key}"}
                    )
                    committed_ms = time.time() * 1000
                    assert got.json()["accepted"] == 1, got.text
                    text = f"{value:.3f}"
                    deadline = time.monotonic() + poll_s + 15
                    for name, page in (("pushed", pushed), ("polled", polled)):
                        while (seen := page.evaluate(f"window.__seen['{text}']")) is None:
                            assert time.monotonic() < deadline, f"{name} page never showed {text}"
                            time.sleep(0.02)
                        lat[name].append(max(0.0, seen - committed_ms))
                browser.close()
        finally:
            proc.terminate()
            proc.wait(30)
    push, poll = stats(lat["pushed"]), stats(lat["polled"])
    return {
        "machine": machine(),
        "rounds": rounds,
        "poll_s": poll_s,
        "pushed": push,
        "polled": poll,
        "speedup_median": round(poll["median_ms"] / max(push["median_ms"], 1e-3), 1),
        "raw_ms": lat,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument(
        "--poll-s", type=float, default=5.0, help="the dashboard's poll interval (default 5)"
    )
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args()
    out = run(args.rounds, args.poll_s)
    p, q = out["pushed"], out["polled"]
    print(f"reading committed → page updated, {out['rounds']} rounds, poll interval {out['poll_s']:g} s")
    print(
        f"  pushed (SSE) median {p['median_ms']:8.1f} ms  p90 {p['p90_ms']:8.1f}  max {p['max_ms']:8.1f}"
    )
    print(
        f"  polled       median {q['median_ms']:8.1f} ms  p90 {q['p90_ms']:8.1f}  max {q['max_ms']:8.1f}"
    )
    print(f"  pushed is {out['speedup_median']}× faster (median)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
