"""Schemathesis against the OpenAPI schema, in-process: no generated request gets a server error."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tirta.api import UserStore, api_settings, create_app
from tirta.leaks.events import open_event
from tirta.network import load_sensors
from tirta.network.model import builtin_network_path
from tirta.telemetry.store import open_store

ADMIN: dict[str, str] = {}


@pytest.fixture(scope="module")
def fuzzed_app(tmp_path_factory: pytest.TempPathFactory):
    """The app over a DuckDB store with L-Town's sensors and one event; an admin key in ADMIN."""
    root: Path = tmp_path_factory.mktemp("fuzz")
    cfg = api_settings(store_url=f"duckdb:///{root / 's.duckdb'}", users_db=root / "u.sqlite", env={})
    with open_store(cfg.store_url) as store:
        store.add_sensors(load_sensors(builtin_network_path("l-town").with_name("sensors.json")))
        open_event(store, detected_at="2021-01-02", start=None, size_lps=1.0, candidates=[], dma="A")
    ADMIN["key"] = UserStore(cfg.users_db).add_user("fuzz-admin", "admin")
    return create_app(cfg)


@pytest.fixture(scope="module")
def api_schema(fuzzed_app):
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", fuzzed_app)


def _fuzz(operation, failures: list[str]) -> None:
    """A few generated requests (positive and negative) to one operation, as an admin."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=8,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case):
        case.call_and_validate(headers={"X-API-Key": ADMIN["key"]}, checks=[not_a_server_error])

    try:
        run()
    except Exception as exc:  # a failed check (FailureGroup) or the server's exception, re-raised
        failures.append(f"{operation.label}: {type(exc).__name__}: {exc}")


@pytest.mark.slow
def test_no_server_error(api_schema):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 15
    failures: list[str] = []
    for operation in operations:
        _fuzz(operation, failures)
    assert not failures, "\n\n".join(failures)
