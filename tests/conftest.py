"""Shared fixtures: real services started as local processes for the whole test session.

``postgres_url`` starts a PostgreSQL 15 server on a temporary directory and a free port (as the
``postgres`` user when the tests run as root, since ``initdb`` refuses root) and stops it at the end.
``postgres_db`` gives each test a fresh, empty database on that server.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["mosquitto"]  # the `mosquitto` broker fixture (tests/mosquitto.py)

PG_BIN_DIRS = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin")
_db_counter = itertools.count(1)


def _pg_bin(name: str) -> str | None:
    for folder in PG_BIN_DIRS:
        candidate = Path(folder) / name
        if candidate.is_file():
            return str(candidate)
    return shutil.which(name)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(cmd: list[str]) -> list[str]:
    """Run as the ``postgres`` user when we are root (initdb and postgres refuse to run as root)."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of an empty ``tirta`` database on a throw-away PostgreSQL server (trust auth, 127.0.0.1)."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not installed")
    psycopg = pytest.importorskip("psycopg")
    root = Path(tempfile.mkdtemp(prefix="tirta-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    os.chmod(root, 0o700)
    log = root / "server.log"
    user = "postgres"
    subprocess.run(
        _as_postgres([initdb, "-D", str(data), "-A", "trust", "-U", user, "-E", "UTF8", "--no-sync"]),
        check=True,
        capture_output=True,
    )
    port = _free_port()
    opts = (
        f"-k {root} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c timezone=UTC"
    )
    start = _as_postgres(
        [pg_ctl, "-D", str(data), "-l", str(log), "-o", opts, "-w", "-t", "30", "start"]
    )
    proc = subprocess.run(start, capture_output=True, text=True)
    if proc.returncode != 0:
        text = log.read_text() if log.exists() else proc.stderr
        raise RuntimeError(f"PostgreSQL did not start:\n{text}")
    base = f"postgresql://{user}@127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(f"{base}/postgres", autocommit=True) as con:
                    con.execute("CREATE DATABASE tirta")
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield f"{base}/tirta"
    finally:
        subprocess.run(
            _as_postgres([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]), capture_output=True
        )
        shutil.rmtree(root, ignore_errors=True)


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
