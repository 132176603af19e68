"""Each domain package's door: every name in ``__all__`` exists and nothing public is missing from it."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = [
    "tirta.network",
    "tirta.hydraulics",
    "tirta.telemetry",
    "tirta.leaks",
    "tirta.balance",
    "tirta.kpis",
    "tirta.wastewater",
    "tirta.reports",
    "tirta.api",
    "tirta.server",
    "tirta.web",
    "tirta.waste",
    "tirta.units",
    "tirta.errors",
    "tirta.coverage",
    "tirta.planning",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_names_exist(name):
    module = importlib.import_module(name)
    assert module.__doc__, f"{name} has no docstring"
    exported = module.__all__
    assert len(exported) == len(set(exported))
    for attr in exported:
        assert hasattr(module, attr), f"{name}.__all__ names missing {attr}"
