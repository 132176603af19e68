"""``/api/v1/events``: leak events, their candidate pipes and history, and their lifecycle."""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query

from tirta.api import services
from tirta.api.deps import Operator, StoreDep, Viewer
from tirta.api.errors import error_responses
from tirta.api.models import EventActionIn, EventPublic, EventsPagePublic

router = APIRouter(prefix="/events", tags=["leaks"])
audit_log = logging.getLogger("tirta.api.audit")

EventId = Annotated[int, Path(ge=1, le=2**62)]
Status = Literal["open", "acknowledged", "dispatched", "repaired", "closed", "false_alarm"]
Action = Literal["acknowledge", "dispatch", "repair", "close", "false-alarm"]


@router.get("", response_model=EventsPagePublic)
def events(
    store: StoreDep,
    _: Viewer,
    status: Status | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    offset: Annotated[int, Query(ge=0, le=100_000_000)] = 0,
) -> Any:
    """Leak events, newest first, optionally of one status."""
    return services.event_page(store, status, limit, offset)


@router.get("/{event_id}", response_model=EventPublic, responses=error_responses(404))
def event(store: StoreDep, _: Viewer, event_id: EventId) -> Any:
    """One event: size, ranked candidate pipes, water lost so far, and who did what when."""
    return services.event_detail(store, event_id)


@router.post(
    "/{event_id}/{action}", response_model=EventPublic, responses=error_responses(400, 404, 409, 413)
)
def act(
    store: StoreDep, who: Operator, event_id: EventId, action: Action, body: EventActionIn | None = None
) -> Any:
    """Acknowledge, dispatch, repair, close or call a false alarm; the history records the user."""
    note = body.note if body is not None else None
    out = services.event_action(store, event_id, action, who=who.user, note=note)
    audit_log.info("event %s: %s by %s (key %s)", event_id, action, who.user, who.key_id)
    return out
