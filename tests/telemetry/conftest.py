"""Fixtures for telemetry: one store URL per backend so every store test runs on DuckDB and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tirta.network.sensors import Sensor, make_sensor
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


@pytest.fixture
def sensors() -> list[Sensor]:
    """Two pressure sensors (m), a flow meter sending m³/h and an AMR meter installed on 2020-06-01."""
    return [
        make_sensor({"id": "n1", "kind": "pressure", "unit": "m"}),
        make_sensor({"id": "n4", "kind": "pressure", "unit": "bar", "max": 100}),
        make_sensor({"id": "p227", "kind": "flow", "unit": "m3/h"}),
        make_sensor({"id": "amr_n1", "kind": "demand", "node": "n1", "installed": "2020-06-01"}),
    ]


@pytest.fixture
def registered(store: Store, sensors: list[Sensor]) -> Store:
    """The store with :func:`sensors` registered."""
    store.add_sensors(sensors)
    return store
