"""One error shape for every API failure: ``{"error": {"type", "message", "file"/"line"/"field"}}``.

Domain errors (:class:`tirta.errors.TirtaError`) become 4xx with their message; anything unexpected
becomes 500 with a fixed message, logged on the server only.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from tirta.errors import InputError, ModelError, StoreError, TirtaError

__all__ = [
    "ApiError",
    "NotFoundError",
    "error_body",
    "error_responses",
    "inconsistent",
    "install_error_handlers",
]

log = logging.getLogger("tirta.api")

_HTTP_TYPES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
}


_DESCRIPTIONS = {
    400: "a parameter or the body cannot be used (the field is named)",
    401: "missing or wrong API key",
    403: "role too low, or a missing CSRF token",
    404: "what the path or a parameter names does not exist",
    405: "method not allowed (the Allow header lists the allowed ones)",
    409: "conflicts with the current state (the field is named)",
    413: "request body too large",
    415: "unsupported content type",
    422: "a parameter or the body does not match this document (validation_error), or its values "
    "contradict each other (inconsistent_input)",
    429: "too many requests (see Retry-After)",
    503: "the telemetry store is unavailable",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries of ``codes``, each with the one error shape."""
    from tirta.api.models import ErrorPublic  # local: models is pure pydantic, no cycle at import

    return {c: {"model": ErrorPublic, "description": _DESCRIPTIONS[c]} for c in codes}


class ApiError(TirtaError):
    """An error the API answers with a given HTTP status and type (401, 403, 413, 429 …)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
        kind: str | None = None,
    ) -> None:
        super().__init__(message, field=field)
        self.status = status
        self.headers = headers
        self.kind = kind or _HTTP_TYPES.get(status, "error")


def inconsistent(exc: InputError) -> ApiError:
    """422 for values each valid on its own that contradict each other (``to`` before ``from``,
    exports above the system input): what no schema of single values can rule out."""
    return ApiError(422, exc.message, field=exc.field, kind="inconsistent_input")


class NotFoundError(InputError):
    """What a path names does not exist (404)."""


def error_body(kind: str, message: str, exc: TirtaError | None = None) -> dict[str, Any]:
    """The one error shape; file, line and field only when known."""
    err: dict[str, Any] = {"type": kind, "message": message}
    if exc is not None:
        for key in ("file", "line", "field"):
            value = getattr(exc, key)
            if value is not None:
                err[key] = value.lstrip("-") if key == "field" else value  # CLI flag names too
    return {"error": err}


def _status(exc: TirtaError) -> tuple[int, str]:
    if isinstance(exc, ApiError):
        return exc.status, exc.kind
    if isinstance(exc, NotFoundError):
        return 404, "not_found"
    if isinstance(exc, InputError):
        return 400, "input_error"
    if isinstance(exc, StoreError):
        return 503, "store_error"
    if isinstance(exc, ModelError):
        return 422, "model_error"
    return 422, "domain_error"


async def _tirta(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TirtaError)
    status, kind = _status(exc)
    body = error_body(kind, exc.message, exc)
    if isinstance(exc, StoreError):  # a store message may name hosts and paths: keep them in the log
        log.warning("store error: %s", exc)
        body = error_body(kind, "the telemetry store is unavailable")
    headers = exc.headers if isinstance(exc, ApiError) else None
    return JSONResponse(body, status_code=status, headers=headers)


def _allowed(request: Request) -> str:
    """Every method some route of the app serves on the request's path (several routes may share it)."""
    methods = {
        method
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE")
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL
            for route in request.app.router.routes
        )
    }
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    kind = _HTTP_TYPES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else kind.replace("_", " ")
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed(request)
    return JSONResponse(error_body(kind, message), status_code=exc.status_code, headers=headers or None)


async def _validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("query", "path", "body", "header")]
    body = error_body("validation_error", str(first.get("msg", "invalid request")))
    if loc:
        body["error"]["field"] = ".".join(loc)
    return JSONResponse(body, status_code=422)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(error_body("internal_error", "internal server error"), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that give every error the one shape."""
    app.add_exception_handler(TirtaError, _tirta)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(Exception, _unexpected)
