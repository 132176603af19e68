"""KPI tests reuse the dashboard's fixtures (a DuckDB store with the L-Town slice, users, the app)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "tirta_tests_web_conftest_for_kpis", Path(__file__).resolve().parents[1] / "web" / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
_web = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _web  # dataclasses look their module up
_spec.loader.exec_module(_web)

web_store = _web.web_store
make_web = _web.make_web
