"""Shared fixtures: real services started as local processes for the whole test session.

``postgres_server`` starts a PostgreSQL server on a temporary directory and a free port (as the
``postgres`` user when the tests run as root, since ``initdb`` refuses root) and stops it at the end;
``postgres_url`` is its ``tirta`` database and ``postgres_db`` gives each test a fresh, empty database.
The process handling lives in tests/services.py, shared with the benchmarks.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from services import PostgresServer, ServiceMissing
from tirta.telemetry.store import Store, open_store

pytest_plugins = ["mosquitto", "browser"]  # fixtures `mosquitto` (tests/mosquitto.py), `browser`

_db_counter = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A throw-away PostgreSQL server (trust auth, 127.0.0.1) with an empty ``tirta`` database.

    A machine without PostgreSQL fails these tests with the command to run: never a silent skip."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.fail("psycopg is not installed: run `.venv/bin/pip install -e '.[dev,postgres]'`")
    try:
        server = PostgresServer()
    except ServiceMissing as exc:
        pytest.fail(str(exc))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """URL of the ``tirta`` database on the session's PostgreSQL server."""
    return postgres_server.url


@pytest.fixture
def postgres_db(postgres_url: str) -> Iterator[str]:
    """URL of a fresh, empty database on the session's PostgreSQL server, dropped afterwards."""
    import psycopg

    base, _, _ = postgres_url.rpartition("/")
    name = f"t{os.getpid()}_{next(_db_counter)}"
    with psycopg.connect(postgres_url, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name} TEMPLATE template0")
    yield f"{base}/{name}"
    with psycopg.connect(postgres_url, autocommit=True) as con:
        con.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(
    params=[
        "duckdb",
        pytest.param("postgres", marks=pytest.mark.service),
        pytest.param("postgres-blocks", marks=pytest.mark.service),
    ]
)
def store_url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A URL of an empty store: a DuckDB file in tmp_path, or a fresh PostgreSQL database, where with
    "postgres-blocks" every write packs new sensor-days into blocks (as bulk loads do)."""
    if request.param == "duckdb":
        return f"duckdb://{tmp_path}/store.duckdb"
    if request.param == "postgres-blocks":
        from tirta.telemetry.store.postgres import PostgresStore

        monkeypatch.setattr(PostgresStore, "block_rows", 1)
    return str(request.getfixturevalue("postgres_db"))


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """The store behind ``store_url``, open for one test (every store test runs on both backends)."""
    with open_store(store_url) as s:
        yield s
