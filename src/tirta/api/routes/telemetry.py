"""``/api/v1/sensors``, ``/api/v1/readings`` (read and ingest) and ``/api/v1/quarantine``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request

from tirta.api import services
from tirta.api.deps import Operator, StateDep, StoreDep, Viewer
from tirta.api.errors import ApiError, error_responses
from tirta.api.models import IngestPublic, QuarantinePagePublic, ReadingsPublic, SensorsPagePublic
from tirta.api.params import SENSORS_PATTERN, time_query
from tirta.api.prefs import user_units

router = APIRouter(tags=["telemetry"])

Limit = Annotated[int, Query(ge=1, le=10_000, description="items per page")]
Offset = Annotated[int, Query(ge=0, le=100_000_000)]

_INGEST_BODY = {
    "requestBody": {
        "required": True,
        "description": "Readings: a JSON object {sensor, t, v, unit} or an array of them, SenML "
        "(RFC 8428), or CSV with the header sensor,time,value,unit. Units as sent; stored in SI.",
        "content": {
            "application/json": {"schema": {"oneOf": [{"type": "object"}, {"type": "array"}]}},
            "application/senml+json": {"schema": {"type": "array", "items": {"type": "object"}}},
            "text/csv": {"schema": {"type": "string"}},
        },
    }
}


@router.get("/sensors", response_model=SensorsPagePublic)
def sensors(store: StoreDep, _: Viewer, limit: Limit = 1000, offset: Offset = 0) -> Any:
    """Registered sensors: kind, unit as received, where they sit, valid range."""
    return services.sensor_list(store, limit, offset)


@router.get("/readings", response_model=ReadingsPublic, responses=error_responses(400, 404))
def readings(
    state: StateDep,
    who: Viewer,
    sensors: Annotated[
        str,
        Query(
            max_length=10_000,
            pattern=SENSORS_PATTERN,
            description="registered sensor ids, comma-separated (an unknown one: 404)",
        ),
    ],
    start: Annotated[str, time_query("first time (UTC without an offset)", alias="from")],
    end: Annotated[str, time_query("end time, exclusive; not after `from`: no readings", alias="to")],
    every: Annotated[Literal["5min", "1h", "1d"] | None, Query(description="resample width")] = None,
    agg: Literal["mean", "min", "max"] = "mean",
    layout: Literal["wide", "long"] = "wide",
    limit: Limit = 1000,
    offset: Offset = 0,
) -> Any:
    """Readings, raw or resampled; wide (a column per sensor) or long rows; in the caller's display
    units (``PUT /me/units``, else the deployment's TIRTA_DISPLAY_UNITS, else SI), named in
    ``columns`` and ``units``."""
    shown = user_units(state.store, who.user, state.settings.display_units).shown
    return services.read_readings(
        state.store,
        sensors,
        start,
        end,
        every=every,
        agg=agg,
        layout=layout,
        limit=limit,
        offset=offset,
        shown=shown,
    )


@router.post(
    "/readings",
    response_model=IngestPublic,
    openapi_extra=_INGEST_BODY,
    responses=error_responses(400, 413, 415, 429),
)
async def ingest(request: Request, state: StateDep, who: Operator) -> Any:
    """Validate and store readings; rejected ones go to the quarantine with their reason."""
    wait = state.limiter.take(who.key_id)
    if wait > 0:
        raise ApiError(
            429,
            "too many ingest requests for this key; slow down",
            headers={"Retry-After": str(max(1, round(wait)))},
        )
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    result = services.ingest_body(state.store, body, content_type, source=f"http:{who.user}")
    return result.to_dict()


@router.get("/quarantine", response_model=QuarantinePagePublic)
def quarantine(store: StoreDep, _: Viewer, limit: Limit = 100, offset: Offset = 0) -> Any:
    """Rejected readings and payloads, newest first, with the reason."""
    return services.quarantine_page(store, limit, offset)
