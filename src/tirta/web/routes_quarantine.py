"""The quarantine review page: rejected readings by reason, source and sensor; release or drop them."""

from __future__ import annotations

import logging
from typing import Annotated
from urllib.parse import parse_qs, quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from tirta.api.deps import get_state
from tirta.api.errors import ApiError
from tirta.errors import TirtaError
from tirta.telemetry import review
from tirta.web.session import PageUser, form_for
from tirta.web.state import render

router = APIRouter(include_in_schema=False)
audit_log = logging.getLogger("tirta.api.audit")
Filter = Annotated[str | None, Query(max_length=128)]


@router.get("/quarantine")
def quarantine_page(
    request: Request,
    user: PageUser,
    reason: Filter = None,
    sensor: Filter = None,
    done: Annotated[str | None, Query(max_length=300)] = None,
    error: Annotated[str | None, Query(max_length=300)] = None,
) -> Response:
    """Rejected readings with reason, source, sensor, file line and raw payload; counts by reason."""
    store = get_state(request).store
    every = review.entries(store)
    rows = [
        r
        for r in every
        if (reason is None or r["reason"] == reason) and (sensor is None or r["sensor"] == sensor)
    ]
    counts: dict[str, int] = {}
    for r in every:
        counts[r["reason"]] = counts.get(r["reason"], 0) + 1
    return render(
        request,
        "quarantine.html",
        user=user,
        page="quarantine",
        rows=rows[:500],
        total=len(rows),
        counts=counts,
        reason=reason or "",
        sensor=sensor or "",
        log=review.audit_log(store)[:50],
        done=done,
        error=error,
    )


@router.post("/quarantine/action")
async def quarantine_action(request: Request, user: PageUser) -> Response:
    """Release (re-validate) or drop the rows ticked on the page, or all rows of the filter (operators)."""
    form = await form_for(request, user)
    if not user.can("operator"):
        raise ApiError(403, f"this needs the role 'operator'; yours is '{user.role}'")
    action = form.get("action", "")
    if action not in ("release", "drop"):
        raise ApiError(400, f"unknown action '{action}'", field="action")
    fields = parse_qs((await request.body()).decode("utf-8"))  # every ticked box, not just the first
    keys = [k for k in fields.get("key", []) if k]
    reason, sensor = form.get("reason") or None, form.get("sensor") or None
    note = (form.get("note") or "").strip()[:1000] or None
    back = {k: v for k, v in (("reason", reason), ("sensor", sensor)) if v}
    fn = review.release if action == "release" else review.drop
    try:
        got = fn(
            get_state(request).store,
            keys or None,
            reason=reason,
            sensor=sensor,
            who=user.name,
            note=note,
        )
    except TirtaError as exc:
        return RedirectResponse(
            f"/quarantine?{urlencode({**back, 'error': exc.message})}", status_code=303
        )
    audit_log.info("quarantine %s by %s: %s", action, user.name, got.to_dict())
    said = (
        f"released: {got.stored} stored, {got.dropped} rows left the quarantine"
        + (f", still failing {got.still_failing}" if got.still_failing else "")
        + (f", {got.not_releasable} not releasable" if got.not_releasable else "")
        if action == "release"
        else f"dropped {got.dropped} rows"
    )
    return RedirectResponse(f"/quarantine?{urlencode(back)}&done={quote(said)}", status_code=303)
