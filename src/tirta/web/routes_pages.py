"""The dashboard's pages: server-rendered shells whose scripts poll the JSON endpoints for updates."""

from __future__ import annotations

import logging
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from tirta.api import opendata, services
from tirta.api.deps import get_state
from tirta.api.errors import ApiError
from tirta.api.prefs import event_in_units
from tirta.errors import TirtaError
from tirta.leaks.events import TRANSITIONS, get_event, list_events
from tirta.web import balancedata, overview, sensordata, wastedata
from tirta.web.overview import data_now
from tirta.web.session import PageUser, form_for
from tirta.web.state import render, shown_units, web_state
from tirta.web.unitview import balance_in_units, overview_in_units

router = APIRouter(include_in_schema=False)
audit_log = logging.getLogger("tirta.api.audit")

EventId = Annotated[int, Path(ge=1, le=2**62)]
#: the lifecycle buttons: API action, label, the status it leads to
BUTTONS = [
    (action, label, services.ACTIONS[action])
    for action, label in [
        ("acknowledge", "Acknowledge"),
        ("dispatch", "Dispatch crew"),
        ("repair", "Mark repaired"),
        ("close", "Close"),
        ("false-alarm", "False alarm"),
    ]
]


def overview_data(request: Request) -> dict[str, Any]:
    """The overview figures, cached for a minute (balances read months of readings)."""
    state = get_state(request)
    return web_state(request).cache.get(
        ("overview",),
        lambda: overview.overview(
            state.store, state.model(), state.settings.audit_file, state.billing()
        ),
    )


@router.get("/")
def home(request: Request, user: PageUser) -> Response:
    """Overview: KPIs, NRW trend, open events."""
    data = overview_in_units(overview_data(request), shown_units(request, user.name))
    return render(request, "overview.html", user=user, page="overview", data=data)


@router.get("/map")
def network_map(
    request: Request,
    user: PageUser,
    quantity: Annotated[str, Query(pattern="^(pressure|flow|none)$")] = "pressure",
    at: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    """Network map: pipes coloured by pressure or flow, sensors, open events with candidate pipes."""
    return render(request, "map.html", user=user, page="map", quantity=quantity, at=at or "")


@router.get("/sensors")
def sensors(request: Request, user: PageUser) -> Response:
    """Every sensor with its latest value, flags and quarantine counts."""
    data = sensordata.sensor_table(get_state(request).store, shown_units(request, user.name))
    return render(request, "sensors.html", user=user, page="sensors", data=data)


@router.get("/sensors/{sensor}")
def sensor(
    request: Request,
    user: PageUser,
    sensor: Annotated[str, Path(max_length=128)],
    days: Annotated[float, Query(gt=0, le=366)] = 2.0,
) -> Response:
    """One sensor's chart with its quality flags and quarantine count."""
    data = sensordata.sensor_series(
        get_state(request).store, sensor, days, shown_units(request, user.name)
    )
    return render(request, "sensor.html", user=user, page="sensor", data=data, days=days)


@router.get("/events")
def events(request: Request, user: PageUser) -> Response:
    """All leak events, newest first."""
    store = get_state(request).store
    now = data_now(store)
    shown = shown_units(request, user.name)
    items = [event_in_units(services.jsonable(e.to_dict(now)), shown) for e in list_events(store)]
    units = event_in_units({}, shown)["display"]["units"]
    return render(request, "events.html", user=user, page="events", events=items, units=units)


@router.get("/events/{event_id}")
def event(
    request: Request,
    user: PageUser,
    event_id: EventId,
    error: Annotated[str | None, Query(max_length=300)] = None,
) -> Response:
    """One event: lifecycle buttons (operators), history, water lost, candidate pipes."""
    store = get_state(request).store
    services.event_detail(store, event_id)  # 404 for an unknown id, as the API says it
    detail = event_in_units(
        services.jsonable(get_event(store, event_id).to_dict(data_now(store))),
        shown_units(request, user.name),
    )
    allowed = set(TRANSITIONS[detail["status"]])
    buttons = (
        [(a, label) for a, label, status in BUTTONS if status in allowed] if user.can("operator") else []
    )
    return render(
        request, "event.html", user=user, page="event", event=detail, buttons=buttons, error=error
    )


@router.post("/events/{event_id}/action")
async def event_action(request: Request, user: PageUser, event_id: EventId) -> Response:
    """A lifecycle step from the event page's form (CSRF-checked, operators only)."""
    form = await form_for(request, user)
    if not user.can("operator"):
        raise ApiError(403, f"this needs the role 'operator'; yours is '{user.role}'")
    action = form.get("action", "")
    if action not in services.ACTIONS:
        raise ApiError(400, f"unknown action '{action}'", field="action")
    note = form.get("note", "").strip()[:1000] or None
    try:
        services.event_action(get_state(request).store, event_id, action, who=user.name, note=note)
    except ApiError as exc:
        if exc.status != 409:
            raise
        return RedirectResponse(f"/events/{event_id}?error={quote(exc.message)}", status_code=303)
    audit_log.info("event %s: %s by %s (dashboard)", event_id, action, user.name)
    web_state(request).cache.clear()  # open-leak counts and water lost change
    return RedirectResponse(f"/events/{event_id}", status_code=303)


@router.get("/balance")
def balance(
    request: Request,
    user: PageUser,
    dma: Annotated[str | None, Query(max_length=64)] = None,
    start: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=10)] = None,
    scheme: Annotated[str, Query(max_length=64)] = "wbi_developing",
) -> Response:
    """The IWA water balance of a DMA and period: table with margins, diagram, months."""
    state = get_state(request)
    names = [d.name for d in state.model()[1]]
    first, last = balancedata.default_period(state.store)
    dma = dma or (names[0] if names else "")
    start, end = start or first, end or last
    data, error = None, None
    if dma:
        try:
            data = web_state(request).cache.get(
                ("balance", dma, start, end, scheme),
                lambda: balancedata.balance_page(
                    state.store, state.model(), dma, start, end, scheme, state.billing()
                ),
            )
        except TirtaError as exc:
            error = exc.message
    else:
        error = "the network has no DMAs"
    if data is not None:  # the cached balance (SI, shared) in this user's volume unit
        data = balance_in_units(data, shown_units(request, user.name))
    return render(
        request,
        "balance.html",
        user=user,
        page="balance",
        data=data,
        error=error,
        dmas=names,
        dma=dma,
        start=start,
        end=end,
        scheme=scheme,
    )


@router.get("/public")
def public(request: Request) -> Response:
    """Transparency page for everyone, without login: NRW, real losses, open leaks; no personal data."""
    state = get_state(request)
    kpis = services.public_kpis(state.store, state.settings.audit_file)
    trend = overview.public_trend(overview_data(request)["trend"])
    zone = trend[-1] if trend else None
    waste = wastedata.public_block(request)
    return render(
        request,
        "public.html",
        user=None,
        page="public",
        kpis=kpis,
        trend=trend,
        zone=zone,
        waste=waste,
        open_data=opendata.public_page(state.settings.kpis_file),
    )
