"""Fixtures for telemetry: sensors and a registered store (``store_url``/``store`` are in tests/conftest.py)."""

from __future__ import annotations

import pytest

from tirta.network.sensors import Sensor, make_sensor
from tirta.telemetry.store import Store


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
