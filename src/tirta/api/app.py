"""The FastAPI application: :func:`create_app` builds it from settings; nothing is built at import."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol

from fastapi import APIRouter, FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tirta.api.deps import AppState, RateLimiter
from tirta.api.errors import error_body, error_responses, install_error_handlers
from tirta.api.routes import ROUTERS
from tirta.api.settings import ApiSettings, api_settings
from tirta.api.store_users import open_users
from tirta.balance import band_schemes
from tirta.config import Settings
from tirta.errors import TirtaError
from tirta.telemetry.store import Store, open_store

__all__ = ["API_PREFIX", "BodyLimit", "RuntimeHook", "create_app"]

API_PREFIX = "/api/v1"
log = logging.getLogger("tirta.api")


class BodyLimit:
    """Refuse request bodies above ``max_bytes`` with 413, whether Content-Length says so or not.

    The body is read up to the limit before the app sees it, so a chunked upload cannot grow past it.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            error_body("payload_too_large", f"the request body exceeds {self.max_bytes} bytes")
        ).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class RuntimeHook(Protocol):
    """Background work sharing the app's process and store (``tirta.server.Runtime`` is one)."""

    @property
    def routers(self) -> Sequence[APIRouter]: ...

    def attach(self, store: Store) -> Store:
        """Take the opened store; return the handle every request and job must use."""

    def start(self, state: AppState) -> None: ...

    def stop(self) -> None: ...


def create_app(
    settings: ApiSettings | Settings | None = None, *, runtime: RuntimeHook | None = None
) -> FastAPI:
    """The API app over the store the settings name; the store opens when the app starts.

    With ``runtime`` (``tirta serve``), the runtime gets the store first, runs beside the app and
    stops before the store closes; its routers are served under ``/api/v1`` too."""
    cfg = settings if isinstance(settings, ApiSettings) else api_settings(base=settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_store(cfg.store_url)
        shared = runtime.attach(store) if runtime is not None else store
        try:
            users = open_users(cfg.users_db, shared)
        except BaseException:
            store.close()
            raise
        app.state.tirta = AppState(cfg, shared, users, RateLimiter(cfg.ingest_per_minute))
        app.state.tirta_runtime = runtime
        try:
            if runtime is not None:
                runtime.start(app.state.tirta)
            yield
        finally:
            try:
                if runtime is not None:
                    runtime.stop()
            finally:
                # the dashboard's live feed (tirta.web.live.LiveHub) reads the store on a thread
                live = getattr(app.state, "tirta_live", None)
                if live is not None:
                    live.stop()
                store.close()

    app = FastAPI(
        title="tirta",
        summary="A water utility's network, telemetry, leaks and water balance.",
        version="1",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        lifespan=lifespan,
        responses=error_responses(401, 403, 422, 503),
    )
    install_error_handlers(app)
    for router in (*ROUTERS, *(runtime.routers if runtime is not None else ())):
        app.include_router(router, prefix=API_PREFIX)
    from tirta.web import install_web  # local: tirta.web imports tirta.api

    install_web(app, session_ttl_s=cfg.session_ttl_s, poll_s=cfg.poll_s, map_tiles=cfg.map_tiles)
    app.add_middleware(BodyLimit, max_bytes=cfg.max_body_bytes)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document with the values only the running server knows: the banding schemes and
    the DMAs of its network as enums, so that what the document admits the API accepts."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    doc = FastAPI.openapi(app)
    app.openapi_schema = None  # FastAPI cached the bare document: enrich it once, then cache that
    names: list[str] | None = None
    state = getattr(app.state, "tirta", None)
    if state is not None:
        try:
            names = sorted(d.name for d in state.model()[1])
        except TirtaError as exc:  # the document stays usable; the model's error shows on use
            log.warning("OpenAPI: the DMAs are not listed: %s", exc)
    schemes = sorted(band_schemes())
    for path, item in doc.get("paths", {}).items():
        for op in item.values():
            for param in op.get("parameters", []) if isinstance(op, dict) else []:
                if param.get("name") == "scheme":
                    param["schema"]["enum"] = schemes
                elif param.get("name") == "name" and path.endswith("/balance/dma/{name}") and names:
                    param["schema"]["enum"] = names
    app.openapi_schema = doc
    return doc
