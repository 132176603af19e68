"""Planning: hydraulic what-ifs on the EPANET engine before pipes go into the ground.

Capacity at a node (hydrant-test style), network extensions (new connections, a new pipe and its size),
pressure management (PRV settings, source heads) with the FAVAD leakage change; SI inside.
"""

from __future__ import annotations

from tirta.planning.capacity import Capacity, DayState, capacity, capacity_naive, capacity_on, day_state

__all__ = ["Capacity", "DayState", "capacity", "capacity_naive", "capacity_on", "day_state"]
