"""Report tests reuse the balance tests' fixtures (simulated L-Town stores, billing file, audit TOML)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "tirta_tests_balance_conftest", Path(__file__).resolve().parents[1] / "balance" / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
_balance = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_balance)

JAKARTA_TOML = _balance.JAKARTA_TOML
ltown_stores = _balance.ltown_stores
ltown_billing = _balance.ltown_billing
