"""Solid waste: weighbridge tonnage and diversion KPIs, landfill gas (LandGEM) and the power it makes.

Tonnage records are validated like readings; landfill gas follows EPA LandGEM with tirta's age convention A.
"""

from __future__ import annotations

from tirta.waste.city import WasteCity, city_report, load_city, public_waste
from tirta.waste.kpis import summarise, tonnage_kpis
from tirta.waste.landfill import (
    Engine,
    Landfill,
    landfill_from_text,
    landfill_years,
    load_landfill,
    parse_landfill,
)
from tirta.waste.landgem import (
    ipcc_fod_methane_t,
    landgem_defaults,
    methane_by_year,
    methane_generation,
    methane_loop,
)
from tirta.waste.operations import engine_sensors, operations_by_year, synthetic_engine_readings
from tirta.waste.tonnage import (
    CATEGORIES,
    STREAMS,
    Site,
    Tonnage,
    load_sites,
    load_sites_file,
    load_tonnage,
    parse_tonnage,
    waste_history,
)

__all__ = [
    "CATEGORIES",
    "STREAMS",
    "Engine",
    "Landfill",
    "Site",
    "Tonnage",
    "WasteCity",
    "city_report",
    "engine_sensors",
    "ipcc_fod_methane_t",
    "landfill_from_text",
    "landfill_years",
    "landgem_defaults",
    "load_city",
    "load_landfill",
    "load_sites",
    "load_sites_file",
    "load_tonnage",
    "methane_by_year",
    "methane_generation",
    "methane_loop",
    "operations_by_year",
    "parse_landfill",
    "parse_tonnage",
    "public_waste",
    "summarise",
    "synthetic_engine_readings",
    "tonnage_kpis",
    "waste_history",
]
