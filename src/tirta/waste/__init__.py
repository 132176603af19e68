"""Solid waste: weighbridge tonnage and diversion KPIs, landfill gas (LandGEM) and the power it makes.

Tonnage records are validated like readings; landfill gas follows EPA LandGEM with tirta's age convention A.
"""

from __future__ import annotations

from tirta.waste.landfill import Engine, Landfill, landfill_years, load_landfill, parse_landfill
from tirta.waste.landgem import landgem_defaults, methane_by_year, methane_generation, methane_loop

__all__ = [
    "Engine",
    "Landfill",
    "landfill_years",
    "landgem_defaults",
    "load_landfill",
    "methane_by_year",
    "methane_generation",
    "methane_loop",
    "parse_landfill",
]
