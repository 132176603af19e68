"""``/api/v1/quarantine/release`` and ``/drop``: review rejected readings (operators; audited)."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from tirta.api.deps import Operator, StoreDep
from tirta.telemetry import review

router = APIRouter(prefix="/quarantine", tags=["telemetry"])
audit_log = logging.getLogger("tirta.api.audit")
Key = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[0-9a-f]+$")]


class ReviewIn(BaseModel):
    """Which rows: their keys (from GET /quarantine), or every row of a reason and/or sensor."""

    keys: list[Key] | None = Field(default=None, max_length=10_000)
    reason: str | None = Field(default=None, min_length=1, max_length=64)
    sensor: str | None = Field(default=None, min_length=1, max_length=128)
    note: str | None = Field(default=None, max_length=1000)


class ReviewPublic(BaseModel):
    action: str
    stored: int
    still_failing: dict[str, int]
    not_releasable: int
    dropped: int


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "No rows named, or a key that is not quarantined"},
    401: {"description": "Missing or wrong API key"},
    403: {"description": "The role is below operator"},
}


@router.post("/release", response_model=ReviewPublic, responses=_ERRORS)
def release(body: ReviewIn, store: StoreDep, who: Operator) -> Any:
    """Re-validate rows after a fix (a sensor registered, a unit corrected); passing ones are stored."""
    got = review.release(
        store, body.keys, reason=body.reason, sensor=body.sensor, who=who.user, note=body.note
    )
    audit_log.info("quarantine release by %s: %s", who.user, got.to_dict())
    return got.to_dict()


@router.post("/drop", response_model=ReviewPublic, responses=_ERRORS)
def drop(body: ReviewIn, store: StoreDep, who: Operator) -> Any:
    """Delete rows for good (audited)."""
    got = review.drop(
        store, body.keys, reason=body.reason, sensor=body.sensor, who=who.user, note=body.note
    )
    audit_log.info("quarantine drop by %s: %s", who.user, got.to_dict())
    return got.to_dict()
