"""API fixtures: a real DuckDB store with L-Town's sensors in tmp_path, users of each role, a client."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tirta.api import ApiSettings, UserStore, api_settings, create_app
from tirta.network import load_sensors
from tirta.network.model import builtin_network_path
from tirta.telemetry.store import open_store


@dataclass
class Api:
    """A running app: its client, settings and one API key per role."""

    client: TestClient
    settings: ApiSettings
    keys: dict[str, str]

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


def ltown_sensors() -> object:
    return load_sensors(builtin_network_path("l-town").with_name("sensors.json"))


def make_settings(store_url: str, tmp_path: Path, **kw: object) -> ApiSettings:
    """Settings from explicit values only (env ignored), users in tmp_path."""
    return api_settings(store_url=store_url, users_db=tmp_path / "users.sqlite", env={}, **kw)  # type: ignore[arg-type]


def start(cfg: ApiSettings) -> Iterator[Api]:
    """Register L-Town's sensors, add a user per role, run the app."""
    with open_store(cfg.store_url) as store:
        store.add_sensors(ltown_sensors())  # type: ignore[arg-type]
    users = UserStore(cfg.users_db)
    keys = {role: users.add_user(f"{role}-1", role) for role in ("viewer", "operator", "admin")}
    with TestClient(create_app(cfg)) as client:
        yield Api(client, cfg, keys)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    """The API over a fresh DuckDB store in tmp_path."""
    yield from start(make_settings(f"duckdb:///{tmp_path / 'store.duckdb'}", tmp_path))


def csv_body(series: dict[str, tuple[float, str]], start: str, end: str, every: str = "5min") -> str:
    """A long CSV (sensor,time,value,unit) with a constant value per sensor over [start, end)."""
    times = pd.date_range(start, end, freq=every, inclusive="left", tz="UTC").strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    lines = ["sensor,time,value,unit"]
    for sensor, (value, unit) in series.items():
        lines.extend(f"{sensor},{t},{value},{unit}" for t in times)
    return "\n".join(lines) + "\n"


@pytest.fixture
def make_csv() -> object:
    """The :func:`csv_body` helper, for tests (conftest modules are not importable)."""
    return csv_body


@pytest.fixture
def start_api() -> object:
    """``start_api(settings)``: a context-managed :class:`Api` over other settings (e.g. PostgreSQL)."""
    from contextlib import contextmanager

    return contextmanager(start)


@pytest.fixture
def settings_for(tmp_path: Path) -> object:
    """``settings_for(store_url, **overrides)``: settings with users in tmp_path."""
    return lambda url, **kw: make_settings(url, tmp_path, **kw)
