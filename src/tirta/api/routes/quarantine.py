"""``/api/v1/quarantine/release`` and ``/drop``: review rejected readings (operators; audited)."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from tirta.api.deps import Operator, StoreDep
from tirta.api.errors import NotFoundError, error_responses, inconsistent
from tirta.errors import InputError
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


_ERRORS = error_responses(400, 404)


def _run(fn: Any, store: Any, body: ReviewIn, who: str) -> dict[str, Any]:
    """404 for a key that is not quarantined; 422 for a body that names no rows."""
    try:
        got = fn(store, body.keys, reason=body.reason, sensor=body.sensor, who=who, note=body.note)
    except InputError as exc:
        if exc.message.startswith("no quarantined row"):
            raise NotFoundError(exc.message, field=exc.field) from None
        raise inconsistent(exc) from None
    out: dict[str, Any] = got.to_dict()
    return out


@router.post("/release", response_model=ReviewPublic, responses=_ERRORS)
def release(body: ReviewIn, store: StoreDep, who: Operator) -> Any:
    """Re-validate rows after a fix (a sensor registered, a unit corrected); passing ones are stored."""
    got = _run(review.release, store, body, who.user)
    audit_log.info("quarantine release by %s: %s", who.user, got)
    return got


@router.post("/drop", response_model=ReviewPublic, responses=_ERRORS)
def drop(body: ReviewIn, store: StoreDep, who: Operator) -> Any:
    """Delete rows for good (audited)."""
    got = _run(review.drop, store, body, who.user)
    audit_log.info("quarantine drop by %s: %s", who.user, got)
    return got
