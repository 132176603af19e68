"""``/api/v1/events``: leak events, their candidate pipes and history, and their lifecycle."""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query

from tirta.api import services
from tirta.api.deps import Operator, StateDep, Viewer
from tirta.api.errors import error_responses
from tirta.api.models import EventActionIn, EventPublic, EventsPagePublic
from tirta.api.prefs import event_in_units, user_units

router = APIRouter(prefix="/events", tags=["leaks"])
audit_log = logging.getLogger("tirta.api.audit")

EventId = Annotated[int, Path(ge=1, le=2**62)]
Status = Literal["open", "acknowledged", "dispatched", "repaired", "closed", "false_alarm"]
Action = Literal["acknowledge", "dispatch", "repair", "close", "false-alarm"]


def _shown(state: StateDep, user: str) -> dict[str, str]:
    """The caller's display unit per quantity (their choice, else TIRTA_DISPLAY_UNITS, else SI)."""
    return user_units(state.store, user, state.settings.display_units).shown


@router.get("", response_model=EventsPagePublic)
def events(
    state: StateDep,
    who: Viewer,
    status: Status | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    offset: Annotated[int, Query(ge=0, le=100_000_000)] = 0,
) -> Any:
    """Leak events, newest first, optionally of one status; SI fields (size_lps, water_lost_m3,
    customer.loss_m3_day) and the same in the caller's display units (``display``)."""
    out = services.event_page(state.store, status, limit, offset)
    shown = _shown(state, who.user)
    return {**out, "items": [event_in_units(e, shown) for e in out["items"]]}


@router.get("/{event_id}", response_model=EventPublic, responses=error_responses(404))
def event(state: StateDep, who: Viewer, event_id: EventId) -> Any:
    """One event: size, ranked candidate pipes, water lost so far (also in the caller's display
    units, ``display``), and who did what when."""
    return event_in_units(services.event_detail(state.store, event_id), _shown(state, who.user))


@router.post(
    "/{event_id}/{action}", response_model=EventPublic, responses=error_responses(400, 404, 409, 413)
)
def act(
    state: StateDep,
    who: Operator,
    event_id: EventId,
    action: Action,
    body: EventActionIn | None = None,
) -> Any:
    """Acknowledge, dispatch, repair, close or call a false alarm; the history records the user."""
    note = body.note if body is not None else None
    out = services.event_action(state.store, event_id, action, who=who.user, note=note)
    audit_log.info("event %s: %s by %s (key %s)", event_id, action, who.user, who.key_id)
    return event_in_units(out, _shown(state, who.user))
