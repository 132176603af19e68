"""Shared paths for tests: fixtures and networks that ship with wntr and tirta."""

from __future__ import annotations

from pathlib import Path

import wntr

FIXTURES = Path(__file__).parent / "fixtures"
BAD = FIXTURES / "bad"
WNTR_NETWORKS = Path(wntr.__file__).parent / "library" / "networks"
NET1 = WNTR_NETWORKS / "Net1.inp"
NET3 = WNTR_NETWORKS / "Net3.inp"
LTOWN = Path(__file__).parents[1] / "src" / "tirta" / "data" / "l-town" / "L-TOWN.inp"
