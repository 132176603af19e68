"""Dashboard benchmark: /map page load in headless Chromium and API read throughput on loopback.

(a) /map from navigation start to the Plotly figure drawn (Plotly.react resolved) for L-Town (with its
    DMAs and the 12-hour telemetry slice) and wntr's Net6 (3,356 nodes, no DMAs, empty store), WebGL
    ``scattergl`` traces against the same page drawn with SVG ``scatter`` (the baseline), first load
    (snapshot solve not cached) and the median of warm loads;
(b) requests/s of reading queries (sensors, readings, events) with an API key at 1 and 8 concurrent
    clients (httpx, thread pool), against a static file of the same server (the baseline).
The server is a real uvicorn in a subprocess. Usage: python benchmarks/web.py [--loads N] [--seconds S]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine

ROOT = Path(__file__).resolve().parents[1]
SLICE = ROOT / "tests" / "fixtures" / "telemetry" / "l-town-slice"
PASSWORD = "benchmark password 1"


def net6_path() -> Path:
    import wntr

    return Path(wntr.__file__).parent / "library" / "networks" / "Net6.inp"


def serve(store_url: str, users_db: str, network: str, dmas: str, port: int) -> None:
    """Run the API with the dashboard (create_app installs it) until killed."""
    import uvicorn

    from tirta.api import api_settings, create_app

    cfg = api_settings(store_url=store_url, users_db=users_db, network=network, dmas=dmas, env={})
    app = create_app(cfg)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def prepare(tmp: Path, name: str) -> dict[str, str]:
    """Store, users db (a viewer with key and password) and model files of one network."""
    from tirta.api import UserStore
    from tirta.network.model import builtin_network_path
    from tirta.telemetry.ingest.files import ingest_file
    from tirta.telemetry.store import open_store

    store_url = f"duckdb:///{tmp / (name + '.duckdb')}"
    if name == "l-town":
        inp = builtin_network_path("l-town")
        dmas = inp.with_name("L-TOWN.dmas.toml")
        with open_store(store_url) as store:
            ingest_file(store, SLICE, sensors_file=inp.with_name("sensors.json"))
    else:
        inp = net6_path()
        dmas = tmp / "net6.dmas.toml"
        dmas.write_text("dma = []  # Net6 has no DMAs\n", encoding="utf-8")
        open_store(store_url).close()
    users_db = tmp / f"{name}.users.sqlite"
    users = UserStore(users_db)
    key = users.add_user("bench", "viewer")
    users.set_password("bench", PASSWORD)
    return {
        "store_url": store_url,
        "users_db": str(users_db),
        "network": str(inp),
        "dmas": str(dmas),
        "key": key,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(files: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    here = str(Path(__file__).parent)
    code = (
        f"import sys; sys.path.insert(0, {here!r}); import web; web.serve({files['store_url']!r}, "
        f"{files['users_db']!r}, {files['network']!r}, {files['dmas']!r}, {port})"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/login", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not start")


def map_loads(base: str, loads: int) -> dict[str, dict[str, float]]:
    """ms from navigation start to the map drawn: WebGL and SVG, first and median of warm loads."""
    from playwright.sync_api import sync_playwright

    out: dict[str, dict[str, float]] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox"]
        )
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        page.goto(base + "/login")
        page.fill("#username", "bench")
        page.fill("#password", PASSWORD)
        page.click("#login-form button[type=submit]")
        page.wait_for_url(base + "/")
        for label, query in [("scattergl", ""), ("svg_scatter", "&gl=false")]:
            times, fetched = [], []
            for _ in range(loads + 1):
                page.goto(f"{base}/map?quantity=pressure{query}")
                page.wait_for_function("document.getElementById('map').dataset.drawn", timeout=120_000)
                marks = page.evaluate(
                    "[document.getElementById('map').dataset.fetched, document.getElementById('map').dataset.drawn]"
                )
                fetched.append(float(marks[0]))
                times.append(float(marks[1]))
            warm_draw = [t - f for t, f in zip(times[1:], fetched[1:], strict=True)]
            out[label] = {
                "first_ms": round(times[0], 1),
                "warm_median_ms": round(statistics.median(times[1:]), 1),
                "warm_figure_fetched_ms": round(statistics.median(fetched[1:]), 1),
                "warm_plotly_draw_ms": round(statistics.median(warm_draw), 1),
            }
        browser.close()
    return out


def throughput(base: str, key: str, seconds: float, concurrency: int) -> dict[str, float]:
    """requests/s of each query for ``seconds`` with ``concurrency`` clients."""
    queries = {
        "baseline_static_file": "/static/favicon.svg",
        "sensors": "/api/v1/sensors?limit=200",
        "readings_3x12h": "/api/v1/readings?sensors=n1,n4,p227&from=2020-12-18T00:00:00Z"
        "&to=2020-12-18T12:00:00Z&limit=1000",
        "events": "/api/v1/events",
    }
    headers = {"Authorization": f"Bearer {key}"}

    def client(path: str, stop: float) -> int:
        with httpx.Client(base_url=base, headers=headers, timeout=30) as c:
            c.get(path).raise_for_status()  # warm the connection and the key cache
            n = 0
            while time.perf_counter() < stop:
                c.get(path).raise_for_status()
                n += 1
            return n

    out = {}
    for name, path in queries.items():
        t0 = time.perf_counter()
        stop = t0 + seconds
        with ThreadPoolExecutor(concurrency) as pool:
            done = sum(f.result() for f in [pool.submit(client, path, stop) for _ in range(concurrency)])
        out[name] = round(done / (time.perf_counter() - t0), 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loads", type=int, default=5, help="warm page loads per variant")
    ap.add_argument("--seconds", type=float, default=3.0, help="seconds per throughput measurement")
    ap.add_argument("--json", type=Path, default=ROOT / "bench-results" / "web.json")
    args = ap.parse_args()
    results: dict[str, object] = {
        "machine": machine(),
        "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
        "map_load": {},
        "api_throughput": {},
    }
    with tempfile.TemporaryDirectory(prefix="tirta-bench-web-") as d:
        for name in ("l-town", "net6"):
            files = prepare(Path(d), name)
            proc, base = start_server(files)
            try:
                results["map_load"][name] = map_loads(base, args.loads)  # type: ignore[index]
                if name == "l-town":
                    results["api_throughput"] = {
                        f"concurrency_{c}": throughput(base, files["key"], args.seconds, c)
                        for c in (1, 8)
                    }
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    m = results["machine"]
    print(f"machine: {m['cpu']}, {m['cores']} cores, {m['memory']}, Python {m['python']}, {m['date']}")
    print(f"load average at start: {results['load_average_at_start']}")
    print(
        f"{'/map load (ms, nav start → drawn)':<36}{'first':>8}{'warm':>8}{'of which fetch':>16}{'draw':>8}"
    )
    for net, variants in results["map_load"].items():  # type: ignore[union-attr]
        for variant, t in variants.items():
            print(
                f"{net + ' ' + variant:<36}{t['first_ms']:>8.0f}{t['warm_median_ms']:>8.0f}"
                f"{t['warm_figure_fetched_ms']:>16.0f}{t['warm_plotly_draw_ms']:>8.0f}"
            )
    print(f"{'API reads (requests/s)':<36}{'1 client':>10}{'8 clients':>14}")
    tp = results["api_throughput"]
    for q in tp["concurrency_1"]:  # type: ignore[index]
        print(f"{q:<36}{tp['concurrency_1'][q]:>10.0f}{tp['concurrency_8'][q]:>14.0f}")  # type: ignore[index]


if __name__ == "__main__":
    main()
