"""Fixtures for leaks: a store URL per backend, so events are tested on DuckDB and PostgreSQL.

Copied from tests/telemetry/conftest.py (a conftest is not importable across test folders).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tirta.telemetry.store import Store, open_store


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.service)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty store: a DuckDB file in tmp_path, or a fresh PostgreSQL database."""
    if request.param == "duckdb":
        return f"duckdb://{tmp_path}/store.duckdb"
    return str(request.getfixturevalue("postgres_db"))


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with open_store(store_url) as s:
        yield s
