"""``/api/v1/waste``: LandGEM of a posted landfill file, the configured city's waste report, and its
public figures (no key needed)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from tirta.api.deps import StateDep, StoreDep, Viewer
from tirta.api.errors import ApiError, NotFoundError, error_responses
from tirta.errors import InputError, TirtaError
from tirta.waste import (
    city_report,
    landfill_from_text,
    landfill_years,
    load_city,
    parse_landfill,
    public_waste,
)

router = APIRouter(prefix="/waste", tags=["waste"])

_TOML_BODY = {
    "requestBody": {
        "required": True,
        "description": "INPUT.toml text: open_year, close_year, waste_t_per_year, k, L0_m3_per_t, methane_pct, "
        "collection_efficiency, engine_efficiency (or defaults = 'caa' | 'inventory').",
        "content": {
            "application/toml": {"schema": {"type": "string"}},
            "text/plain": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object"}},
        },
    }
}


class LandgemYear(BaseModel):
    """One modelled year; volumes in m³/yr, masses in t, power in MW, energy in MWh/yr."""

    year: int
    waste_accepted_t: float
    waste_in_place_t: float
    methane_m3: float
    lfg_m3: float
    co2_m3: float
    nmoc_m3: float
    methane_t: float
    collected_methane_m3: float
    power_mw: float
    power_low_mw: float
    power_high_mw: float
    energy_mwh: float
    avoided_co2e_t: float


class LandgemPublic(BaseModel):
    landfill: str
    years: list[LandgemYear]


class WastePublic(BaseModel):
    """The transparency figures of the latest complete year; no site-level or personal data."""

    name: str | None
    year: str | None
    diversion_pct: float | None
    landfill_pct: float | None
    kg_per_capita_day: float | None
    t_per_day: float | None
    energy_year: int | None
    energy_mwh: float | None


@router.post(
    "/landgem", response_model=LandgemPublic, openapi_extra=_TOML_BODY, responses=error_responses(400)
)
async def landgem(request: Request, _: Viewer) -> Any:
    """Yearly methane, landfill gas, CO2, NMOC, power and energy of the posted landfill file (TOML text,
    or the same keys as a JSON object)."""
    try:
        text = (await request.body()).decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("the landfill file is not UTF-8 text", field="body") from None
    doc: Any = None
    if request.headers.get("content-type", "").split(";", 1)[0].strip().lower() == "application/json":
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON: {exc.msg}", line=exc.lineno, field="body") from None
        if not isinstance(doc, dict) or "tonnage" in doc:
            raise InputError(
                "expected a JSON object with the landfill's keys (no tonnage)", field="body"
            )
    try:
        lf = parse_landfill(doc, source="body") if doc is not None else landfill_from_text(text)
    except InputError as exc:  # a well-formed body that describes no valid landfill
        err = ApiError(422, exc.message, field=exc.field, kind="invalid_landfill")
        err.file, err.line = exc.file, exc.line
        raise err from None
    return {"landfill": lf.name, "years": landfill_years(lf).to_dict("records")}


def _report(state: Any, store: Any) -> dict[str, Any]:
    if state.settings.waste_file is None:
        raise NotFoundError("no waste configuration (TIRTA_WASTE_FILE)")
    return city_report(load_city(state.settings.waste_file), store)


@router.get("/report", responses=error_responses(404))
def report(state: StateDep, store: StoreDep, _: Viewer) -> Any:
    """Tonnage KPIs city-wide and per site by month and year; per landfill the model and engine actuals."""
    return _report(state, store)


@router.get("/public", response_model=WastePublic)
def public(state: StateDep, store: StoreDep) -> Any:
    """Diversion, landfilled share, kg per person per day, MWh from landfill gas; anyone may read it.
    All null when no waste file is configured."""
    if state.settings.waste_file is None:
        return dict.fromkeys(WastePublic.model_fields)
    try:
        return public_waste(_report(state, store))
    except TirtaError:  # no server paths for anonymous readers; the log has the cause
        raise ApiError(503, "the waste figures are unavailable") from None
