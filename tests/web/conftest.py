"""Dashboard fixtures: a real DuckDB store with the L-Town slice and an open event, users with passwords,
the app (create_app installs the dashboard), and a logged-in client per role."""

from __future__ import annotations

import dataclasses
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from browser import PASSWORD as BROWSER_PASSWORD
from tirta.api import ApiSettings, UserStore, api_settings, create_app
from tirta.leaks.events import open_event
from tirta.network.model import builtin_network_path
from tirta.telemetry.ingest.files import ingest_file
from tirta.telemetry.store import open_store

ROOT = Path(__file__).resolve().parents[2]
SLICE = ROOT / "tests" / "fixtures" / "telemetry" / "l-town-slice"
PASSWORD = BROWSER_PASSWORD  # test-only password (tests/browser.py logs in with it)
ROLES = ("viewer", "operator", "admin")


def prepare_store(store_url: str) -> int:
    """Ingest the 12-hour L-Town slice and open one event on p101/p102; return the event id."""
    with open_store(store_url) as store:
        ingest_file(store, SLICE, sensors_file=builtin_network_path("l-town").with_name("sensors.json"))
        return open_event(
            store,
            detected_at=pd.Timestamp("2020-12-18T06:00Z"),
            start=pd.Timestamp("2020-12-18T02:00Z"),
            size_lps=2.5,
            candidates=[{"pipe": "p101", "score": 0.9}, {"pipe": "p102", "score": 0.4}],
            dma="A",
            radius_m=150.0,
        )


def add_users(users_db: Path) -> dict[str, str]:
    """A user per role (``viewer-1`` …) with :data:`PASSWORD`; return their API keys."""
    users = UserStore(users_db)
    keys = {}
    for role in ROLES:
        keys[role] = users.add_user(f"{role}-1", role)
        users.set_password(f"{role}-1", PASSWORD)
    return keys


@dataclass
class Web:
    """The app under test, its settings, API keys per role and the event opened in the store."""

    client: TestClient
    settings: ApiSettings
    keys: dict[str, str]
    event_id: int

    def login(self, role: str, password: str = PASSWORD) -> TestClient:
        """Log the client in as the user of ``role`` (cookies kept by the client)."""
        page = self.client.get("/login")
        token = csrf_of(page.text)
        r = self.client.post(
            "/login",
            data={"username": f"{role}-1", "password": password, "csrf": token, "next": "/"},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        return self.client


def csrf_of(html: str) -> str:
    """The CSRF token in a page's hidden field."""
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF field in the page"
    return match.group(1)


@pytest.fixture(scope="module")
def web_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, int]:
    """A store prepared once per module: (store URL, users db path, event id)."""
    tmp = tmp_path_factory.mktemp("web")
    url = f"duckdb:///{tmp / 'store.duckdb'}"
    return url, tmp, prepare_store(url)


@pytest.fixture
def make_web(tmp_path: Path, web_store: tuple[str, Path, int]) -> Callable[..., Iterator[Web]]:
    """``make_web(**install_kw)``: a fresh app (own copy of the store and users) as a context."""

    @contextmanager
    def make(**install_kw: float) -> Iterator[Web]:
        src = Path(web_store[0].removeprefix("duckdb:///"))
        dst = tmp_path / "store.duckdb"
        shutil.copy(src, dst)
        cfg = api_settings(store_url=f"duckdb:///{dst}", users_db=tmp_path / "users.sqlite", env={})
        cfg = dataclasses.replace(cfg, **install_kw)  # session_ttl_s, poll_s
        keys = add_users(cfg.users_db)
        app = create_app(cfg)
        with TestClient(app) as client:
            yield Web(client, cfg, keys, web_store[2])

    return make


@pytest.fixture
def web(make_web: Callable[..., Iterator[Web]]) -> Iterator[Web]:
    """The dashboard with default settings."""
    with make_web() as w:
        yield w
