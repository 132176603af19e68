"""Live pages: ``GET /api/v1/stream`` (server-sent events), the status page and its JSON."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse

from tirta.api.deps import Viewer, get_state
from tirta.web.live import LiveHub, Message
from tirta.web.session import PageUser
from tirta.web.state import render
from tirta.web.statusdata import status_data

__all__ = ["api", "pages"]

api = APIRouter(tags=["dashboard"])
pages = APIRouter(include_in_schema=False)
_HUB_LOCK = threading.Lock()
WAIT_S = 0.1  # how often a stream looks for new messages (in memory)
HEARTBEAT_S = 15.0  # a comment line keeps proxies from closing an idle stream


def live_hub(request: Request) -> LiveHub:
    """The app's hub, made on first use over the app's store and the serve runtime (if any)."""
    app_state = request.app.state
    with _HUB_LOCK:
        hub: LiveHub | None = getattr(app_state, "tirta_live", None)
        if hub is None:
            runtime = getattr(app_state, "tirta_runtime", None)
            hub = LiveHub(get_state(request).store, runtime)
            app_state.tirta_live = hub
    return hub


def _frame(msg: Message) -> str:
    return f"id: {msg.seq}\nevent: {msg.name}\ndata: {json.dumps(msg.data)}\n\n"


async def _events(request: Request, hub: LiveHub) -> AsyncIterator[str]:
    hub.touch()
    seq = hub.seq
    yield f"retry: 2000\nevent: hello\ndata: {json.dumps({'seq': seq})}\n\n"
    beat = time.monotonic()
    app_state = request.app.state
    while not getattr(app_state, "tirta_stopping", False) and not await request.is_disconnected():
        hub.touch()
        for msg in hub.since(seq):
            seq = msg.seq
            yield _frame(msg)
            beat = time.monotonic()
        if time.monotonic() - beat > HEARTBEAT_S:
            yield ": keep-alive\n\n"
            beat = time.monotonic()
        await asyncio.sleep(WAIT_S)


@api.get(
    "/stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "server-sent events",
            "content": {"text/event-stream": {"schema": {}}},
        }
    },
)
def stream(request: Request, _: Viewer) -> StreamingResponse:
    """Server-sent events for open pages: ``reading`` (count, latest time per sensor kind, ingestion
    rate), ``event`` (a leak event opened or changed) and ``job`` (a scheduled job started or ended)."""
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(
        _events(request, live_hub(request)), media_type="text/event-stream", headers=headers
    )


@api.get("/dashboard/status")
async def status(request: Request, _: Viewer) -> Any:
    """Jobs (last run, duration, error), ingestion rate and lag, store size, MQTT connection."""
    hub = live_hub(request)
    hub.touch()
    runtime = getattr(request.app.state, "tirta_runtime", None)
    return await run_in_threadpool(status_data, hub, get_state(request).store, runtime)


@pages.get("/status")
def status_page(request: Request, user: PageUser) -> Response:
    """The control room's status: jobs, ingestion, store and MQTT, updated through the stream."""
    hub = live_hub(request)
    hub.touch()
    runtime = getattr(request.app.state, "tirta_runtime", None)
    data = status_data(hub, get_state(request).store, runtime)
    return render(request, "status.html", user=user, page="status", data=data)
