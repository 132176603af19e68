"""``/api/v1/plants``: the wastewater plants of the registry and one plant's KPIs and compliance."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from tirta.api.deps import StateDep, StoreDep, Viewer
from tirta.api.errors import NotFoundError, error_responses
from tirta.api.models import ReportPublic
from tirta.wastewater.pages import default_months, plant_page, plants_of

router = APIRouter(prefix="/plants", tags=["plants"])

Month = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$", description="month YYYY-MM")]


@router.get("", response_model=list[ReportPublic])
def plants(state: StateDep, _: Viewer) -> Any:
    """The plants of the registry (``TIRTA_PLANTS_FILE``): design flow and BOD load, process, permit;
    none when no registry is configured."""
    if state.settings.plants_file is None:
        return []
    return [p.to_dict() for p in plants_of(state.settings.plants_file).values()]


@router.get("/{plant_id}", response_model=ReportPublic, responses=error_responses(404))
def plant(
    state: StateDep,
    store: StoreDep,
    _: Viewer,
    plant_id: Annotated[str, Path(max_length=64)],
    start: Annotated[
        str | None, Query(alias="from", pattern=r"^\d{4}-\d{2}$", description="first month YYYY-MM")
    ] = None,
    end: Month = None,
) -> Any:
    """Monthly KPIs (load vs design, removal, kWh/m³, biogas, CHP) and effluent compliance of a plant;
    by default the twelve months up to the newest data."""
    registry = plants_of(state.settings.plants_file) if state.settings.plants_file else {}
    if plant_id not in registry:
        raise NotFoundError(f"no plant '{plant_id}'", field="plant_id")
    first, last = default_months(store)
    return plant_page(store, registry[plant_id], start or first, end or last)
