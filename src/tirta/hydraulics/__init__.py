"""Hydraulics: the EPANET 2.3 engine (open once, solve many), leak scenarios, telemetry generator.

Every value in and out is SI (m, m³/s); the engine converts EPANET's units when it opens a model.
"""

from __future__ import annotations

from tirta.hydraulics.engine import Engine, Results, Snapshot
from tirta.hydraulics.scenarios import PDA, Leak, orifice_coefficient, orifice_flow

__all__ = ["PDA", "Engine", "Leak", "Results", "Snapshot", "orifice_coefficient", "orifice_flow"]
