"""Planning: hydraulic what-ifs on the EPANET engine before pipes go into the ground.

Capacity at a node (hydrant-test style), network extensions (new connections, a new pipe and its size),
pressure management (PRV settings, source heads) with the FAVAD leakage change; SI inside.
"""

from __future__ import annotations

from tirta.planning.capacity import (
    Capacity,
    DayState,
    capacity,
    capacity_naive,
    capacity_on,
    day_state,
)
from tirta.planning.design import (
    STANDARD_DIAMETERS_MM,
    Connection,
    DemandDesign,
    NewPipe,
    parse_connection,
    parse_new_pipe,
)
from tirta.planning.extension import DayRun, Extension, day_run, extend
from tirta.planning.pressure import PressureChange, parse_setting, pressure_management

__all__ = [
    "STANDARD_DIAMETERS_MM",
    "Capacity",
    "Connection",
    "DayRun",
    "DayState",
    "DemandDesign",
    "Extension",
    "NewPipe",
    "PressureChange",
    "capacity",
    "capacity_naive",
    "capacity_on",
    "day_run",
    "day_state",
    "extend",
    "parse_connection",
    "parse_new_pipe",
    "parse_setting",
    "pressure_management",
]
