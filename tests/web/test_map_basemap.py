"""The basemap under the network map, in real headless Chromium: with TIRTA_MAP_TILES (and the model's
CRS) the map asks a local tile server for tiles and draws the network over them as scattermap traces,
with the attribution shown; without it, the page asks no server but the dashboard's for anything."""

from __future__ import annotations

import shutil
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from browser import login, serve, wait_js
from tirta.api import api_settings, create_app
from tirta.errors import InputError

from .conftest import add_users

pytestmark = [pytest.mark.slow, pytest.mark.service]
CREDIT = "© tirta test tiles"


def _png(size: int = 256) -> bytes:
    """A plain light-grey PNG of ``size``² pixels (8-bit greyscale)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\xdd" * size for _ in range(size))
    head = struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", head)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


class TileServer:
    """A threaded HTTP server answering any /z/x/y.png with a PNG, recording the paths asked for."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        body, paths, lock = _png(), self.paths, threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with lock:
                    paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Access-Control-Allow-Origin", "*")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def tiles() -> Iterator[TileServer]:
    server = TileServer()
    yield server
    server.close()


def _app(web_store: tuple[str, Path, int], tmp: Path, env: dict[str, str]) -> Any:
    shutil.copy(web_store[0].removeprefix("duckdb:///"), tmp / "store.duckdb")
    cfg = api_settings(
        store_url=f"duckdb:///{tmp / 'store.duckdb'}", users_db=tmp / "users.sqlite", env=env
    )
    add_users(cfg.users_db)
    return create_app(cfg)


def _map_page(browser: Any, base: str, outside: list[str]) -> Any:
    errors: list[str] = []
    page = login(
        browser,
        base,
        "viewer-1",
        next_path="/map",
        viewport={"width": 1200, "height": 900},
        errors=errors,
    )
    mine = (base, "blob:" + base)  # the dashboard, and MapLibre's worker made from its own script
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(mine) else None)
    wait_js(page, "document.getElementById('map')?.dataset.drawn", 90)
    assert not errors, errors
    return page


def test_tiles_under_the_network_when_configured(
    browser: Any, tiles: TileServer, web_store: tuple[str, Path, int], tmp_path: Path
) -> None:
    env = {
        "TIRTA_MAP_TILES": tiles.url + "/{z}/{x}/{y}.png",
        "TIRTA_MAP_CRS": "EPSG:3857",  # L-Town's metres, placed near (0°, 0°) for the test
        "TIRTA_MAP_ATTRIBUTION": CREDIT,
    }
    with serve(_app(web_store, tmp_path, env)) as base:
        outside: list[str] = []
        page = _map_page(browser, base, outside)
        deadline = time.monotonic() + 60
        while not tiles.paths:
            assert time.monotonic() < deadline, "the map asked the tile server for no tile"
            time.sleep(0.2)
        z, x, y = (int(v) for v in tiles.paths[0].removesuffix(".png").strip("/").split("/"))
        assert 12 <= z <= 20 and 0 <= x < 2**z and 0 <= y < 2**z, tiles.paths[0]
        assert all(u.startswith(tiles.url) for u in outside), outside  # the tiles, nothing else
        traces = page.evaluate(
            "document.getElementById('map')._fullData.map((t) => [t.type, t.name, (t.lon || []).length])"
        )
        by_name = {name: (kind, n) for kind, name, n in traces}
        assert by_name["pipes"][0] == "scattermap" and by_name["pipes"][1] >= 905 * 3 - 1
        assert by_name["sensors"][0] == "scattermap" and by_name["sensors"][1] > 30
        assert {kind for kind, _, _ in traces} == {"scattermap"}
        assert page.evaluate("document.getElementById('map').dataset.basemap") == "on"
        assert page.inner_text("#map-attribution") == CREDIT
        wait_js(page, "!!document.querySelector('#map canvas.maplibregl-canvas')")
        page.close()


def test_no_tile_request_without_the_setting(
    browser: Any, tiles: TileServer, web_store: tuple[str, Path, int], tmp_path: Path
) -> None:
    before = len(tiles.paths)
    with serve(_app(web_store, tmp_path, {})) as base:
        outside: list[str] = []
        page = _map_page(browser, base, outside)
        assert page.evaluate("document.getElementById('map').dataset.basemap") == "off"
        kinds = page.evaluate("document.getElementById('map')._fullData.map((t) => t.type)")
        assert "scattermap" not in kinds and "scattergl" in kinds
        time.sleep(3)  # a map library would have asked for its tiles by now
        assert outside == [] and len(tiles.paths) == before
        assert page.locator("#map-attribution").is_hidden()
        page.close()


def test_bad_tile_settings_are_input_errors() -> None:
    with pytest.raises(InputError) as bad:
        api_settings(env={"TIRTA_MAP_TILES": "tiles.example/{z}/{x}.png"})
    assert bad.value.field == "TIRTA_MAP_TILES"
    with pytest.raises(InputError) as bad:
        api_settings(
            env={"TIRTA_MAP_TILES": "https://t.example/{z}/{x}/{y}.png", "TIRTA_MAP_CRS": "EPSG:0"}
        )
    assert bad.value.field == "TIRTA_MAP_CRS"
