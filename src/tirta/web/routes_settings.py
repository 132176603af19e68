"""``/settings``: the logged-in user's display units (a small form; the same as ``PUT /api/v1/me/units``)."""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from tirta.api.deps import get_state
from tirta.api.prefs import set_units, user_units
from tirta.errors import UnitError
from tirta.web.session import PageUser, form_for
from tirta.web.state import render

router = APIRouter(include_in_schema=False)
audit_log = logging.getLogger("tirta.api.audit")

#: the choices the form offers (spec, label); any other spec can be typed or sent to the API
CHOICES = [
    ("", "the deployment's default"),
    ("si", "SI: m³/s, m, m³"),
    ("metric", "metric: L/s, m, m³"),
    ("metric,flow=m3/h", "metric with flows in m³/h"),
    ("metric,flow=MLD", "metric with flows in MLD (megalitres a day)"),
    ("metric,flow=m3/d", "metric with flows in m³/day"),
    ("us", "US: gpm, psi, ft, gal"),
    ("us,flow=mgd", "US with flows in mgd"),
]


@router.get("/settings")
def settings_page(request: Request, user: PageUser, error: str | None = None) -> Response:
    """The user's display units: what they chose, the deployment's default and the unit per quantity."""
    state = get_state(request)
    choice = user_units(state.store, user.name, state.settings.display_units)
    return render(
        request,
        "settings.html",
        user=user,
        page="settings",
        choice=choice,
        choices=CHOICES,
        error=(error or "")[:300],
    )


@router.post("/settings")
async def save_settings(request: Request, user: PageUser) -> Response:
    """Store the user's display units from the form (CSRF-checked); an unknown unit is said on the page."""
    form = await form_for(request, user)
    spec = form.get("custom", "").strip() or form.get("units", "")
    state = get_state(request)
    try:
        choice = set_units(state.store, user.name, spec, state.settings.display_units)
    except UnitError as exc:
        return RedirectResponse(f"/settings?error={quote(exc.message)}", status_code=303)
    audit_log.info("display units of %s set to %r (dashboard)", user.name, choice.units)
    return RedirectResponse("/settings", status_code=303)
