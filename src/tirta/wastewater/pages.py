"""What a plant page shows: the registry's plants and one plant's summary over a span of months, read
from the store and the plant's lab file (the dashboard's domain side; no HTTP here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from tirta.errors import InputError
from tirta.telemetry.store.base import Store
from tirta.wastewater.events import breach_events
from tirta.wastewater.lab import load_lab
from tirta.wastewater.plants import Plant, load_plants
from tirta.wastewater.summary import empty_lab, plant_summary, plant_telemetry

__all__ = ["default_months", "plant_page", "plants_of"]


def plants_of(registry: Path | None) -> dict[str, Plant]:
    """The plants of the configured registry; InputError naming ``TIRTA_PLANTS_FILE`` when none is set."""
    if registry is None:
        raise InputError("no plant registry configured", field="TIRTA_PLANTS_FILE")
    return load_plants(registry)


def default_months(store: Store) -> tuple[str, str]:
    """The last twelve months (``YYYY-MM``) up to the newest data in the store."""
    span = store.span()
    last = pd.Timestamp.now(tz="UTC") if span is None else span[1]
    end = last.tz_convert(None).to_period("M")
    return str(end - 11), str(end)


def plant_page(store: Store, plant: Plant, first: str, last: str) -> dict[str, Any]:
    """Summary of ``plant`` for months ``first`` … ``last`` (``YYYY-MM``): KPIs, compliance, months."""
    try:
        p0, p1 = pd.Period(first, freq="M"), pd.Period(last, freq="M")
    except ValueError:
        raise InputError(f"'{first}' or '{last}' is not a month (YYYY-MM)", field="from") from None
    if p1 < p0:
        raise InputError("the period ends before it starts", field="to")
    t0, t1 = p0.start_time.tz_localize("UTC"), (p1 + 1).start_time.tz_localize("UTC")
    lab = load_lab(plant.lab_file) if plant.lab_file is not None else empty_lab()
    lab = lab[(lab["time"] >= t0) & (lab["time"] < t1)]
    summary = plant_summary(plant, plant_telemetry(store, plant, t0, t1), lab)
    events = [b.to_dict() for b in breach_events(store, plant.id)]
    for e in events:
        del e["history"]
    return {**summary, "from": str(p0), "to": str(p1), "breach_events": events}
