"""``install_web(app)``: add the dashboard (pages, JSON, static files, headers) to an API app."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import plotly
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tirta.web import routes_auth, routes_data, routes_live, routes_pages, routes_waste
from tirta.web.routes_plant import router as plant_router
from tirta.web.session import LoginRequired
from tirta.web.state import WebState

__all__ = ["SecurityHeaders", "install_web"]

_API = "/api/v1"
_PLOTLY = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
# Plotly's WebGL traces compile shader glue with Function(): 'unsafe-eval' is needed, inline script is not
_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)


class SecurityHeaders:
    """Adds CSP, no framing, no sniffing and no referrer to every response that lacks them; the API's
    own docs page (Swagger UI, served from a CDN by FastAPI) keeps working without the CSP."""

    def __init__(self, app: ASGIApp, tile_origin: str | None = None) -> None:
        self.app = app
        self.csp = _CSP
        if tile_origin:  # the basemap's tiles (TIRTA_MAP_TILES) load from their server
            self.csp = _CSP.replace("img-src 'self'", f"img-src 'self' {tile_origin}").replace(
                "connect-src 'self'", f"connect-src 'self' {tile_origin}"
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = not str(scope.get("path", "")).startswith(f"{_API}/docs")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                have = {k.lower() for k, _ in headers}
                for key, value in (
                    (b"content-security-policy", self.csp.encode() if csp else b""),
                    (b"x-frame-options", b"DENY"),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                ):
                    if value and key not in have:
                        headers.append((key, value))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def _origin(url: str | None) -> str | None:
    """``scheme://host[:port]`` of a URL template (the CSP source of the basemap's tiles)."""
    if not url:
        return None
    from urllib.parse import urlsplit

    parts = urlsplit(url.replace("{", "").replace("}", ""))
    return f"{parts.scheme}://{parts.netloc}"


async def _to_login(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(f"/login?next={exc.next_url}", status_code=303)


def _plotly_js() -> FileResponse:
    return FileResponse(
        _PLOTLY, media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"}
    )


def install_web(
    app: FastAPI,
    *,
    session_ttl_s: float = 8 * 3600.0,
    poll_s: float = 5.0,
    map_tiles: str | None = None,
) -> None:
    """Add the dashboard to an app from :func:`tirta.api.create_app`; a second call does nothing.

    Sessions last ``session_ttl_s`` seconds; pages poll for updates every ``poll_s`` seconds; the
    pages may load basemap tiles from the server of ``map_tiles`` (else from nowhere but this one).
    """
    if getattr(app.state, "tirta_web", None) is not None:
        return
    app.state.tirta_web = WebState(session_ttl_s=session_ttl_s, poll_s=poll_s)
    app.add_exception_handler(LoginRequired, _to_login)
    app.include_router(routes_data.router, prefix=_API)
    app.include_router(routes_auth.router)
    app.include_router(plant_router)
    app.include_router(routes_pages.router)
    from tirta.web import routes_quarantine  # quarantine review (release, drop)

    app.include_router(routes_quarantine.router)
    app.include_router(routes_waste.router)
    from tirta.web import routes_planning  # planning page (coverage, what-ifs)

    app.include_router(routes_planning.router)
    app.include_router(routes_planning.api_router, prefix=_API)
    app.include_router(routes_live.api, prefix=_API)
    app.include_router(routes_live.pages)
    from tirta.web import routes_settings  # the user's display units

    app.include_router(routes_settings.router)
    app.add_api_route("/static/vendor/plotly.min.js", _plotly_js, include_in_schema=False)
    static = files("tirta.web").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    app.add_middleware(GZipMiddleware, minimum_size=4096)  # map figures and plotly.min.js shrink ~4×
    app.add_middleware(SecurityHeaders, tile_origin=_origin(map_tiles))
