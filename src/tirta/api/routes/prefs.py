"""``/api/v1/me/units``: the caller's display units (stored with the user; readings stay SI)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from tirta.api.deps import StateDep, Viewer
from tirta.api.errors import ApiError, error_responses
from tirta.api.prefs import set_units, user_units
from tirta.errors import UnitError

router = APIRouter(prefix="/me", tags=["users"])
audit_log = logging.getLogger("tirta.api.audit")


class UnitsIn(BaseModel):
    """A display-units choice; empty: the deployment's default again."""

    model_config = ConfigDict(extra="forbid")
    units: str = Field(
        max_length=200,
        description="si, metric or us, and/or quantity=unit items, e.g. 'metric,flow=MLD'",
        examples=["metric,flow=m3/h"],
    )


class UnitsPublic(BaseModel):
    """What the caller sees: their spec (or the deployment's), whether it is their own, and the unit
    per quantity (pressure, level, flow, volume, length)."""

    user: str
    units: str
    own: bool
    default: str
    shown: dict[str, str]


@router.get("/units", response_model=UnitsPublic)
def my_units(state: StateDep, who: Viewer) -> Any:
    """The caller's display units."""
    return user_units(state.store, who.user, state.settings.display_units).to_dict()


@router.put("/units", response_model=UnitsPublic, responses=error_responses(422))
def choose_units(state: StateDep, who: Viewer, body: UnitsIn) -> Any:
    """Choose the caller's display units for pages and JSON; a well-formed body naming a unit or
    quantity tirta does not know is 422 ``unknown_units`` with the field ``units``."""
    try:
        choice = set_units(state.store, who.user, body.units, state.settings.display_units)
    except UnitError as exc:  # free text no schema can check: the content, not the request, is wrong
        raise ApiError(422, exc.message, field="units", kind="unknown_units") from None
    audit_log.info("display units of %s set to %r", who.user, choice.units)
    return choice.to_dict()
