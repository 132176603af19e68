"""Dashboard pages of the wastewater plants: the registry's plants, and per plant its KPIs against
design, energy and biogas, and effluent compliance over a span of months."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from tirta.api.deps import get_state
from tirta.errors import TirtaError
from tirta.reports.plant import plant_kpi_cards
from tirta.wastewater.pages import default_months, plant_page, plants_of
from tirta.web.session import PageUser
from tirta.web.state import render, web_state

router = APIRouter(include_in_schema=False)
Month = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")]


@router.get("/plants")
def plants(request: Request, user: PageUser) -> Response:
    """The plants of the registry (``TIRTA_PLANTS_FILE``) with their design capacity."""
    state = get_state(request)
    items: list[dict[str, Any]] = []
    error = None
    try:
        items = [p.to_dict() for p in plants_of(state.settings.plants_file).values()]
    except TirtaError as exc:
        error = str(exc)
    return render(request, "plants.html", user=user, page="plants", plants=items, error=error)


@router.get("/plants/{plant_id}")
def plant(
    request: Request,
    user: PageUser,
    plant_id: Annotated[str, Path(max_length=64)],
    start: Annotated[str | None, Query(alias="from", pattern=r"^\d{4}-\d{2}$")] = None,
    end: Month = None,
) -> Response:
    """One plant over a span of months: KPI cards, monthly table and charts, compliance, exceedances."""
    state = get_state(request)
    data, error, names = None, None, []
    try:
        registry = plants_of(state.settings.plants_file)
        names = list(registry)
        if plant_id not in registry:
            raise TirtaError(f"unknown plant '{plant_id}'")
        first, last = default_months(state.store)
        start, end = start or first, end or last
        data = web_state(request).cache.get(
            ("plant", plant_id, start, end),
            lambda: plant_page(state.store, registry[plant_id], str(start), str(end)),
        )
    except TirtaError as exc:
        error = str(exc)
    return render(
        request,
        "plant.html",
        user=user,
        page="plants",
        plant_id=plant_id,
        plants=names,
        data=data,
        cards=plant_kpi_cards(data["total"]) if data else [],
        error=error,
        start=start or "",
        end=end or "",
    )
