"""``tirta serve``: run the API with uvicorn over one store; refuses an open host without an admin."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

import typer

from tirta.api.settings import ApiSettings, api_settings
from tirta.api.users import UserStore
from tirta.cli.ingest import StoreOption
from tirta.errors import InputError

__all__ = ["check_exposure", "is_loopback", "serve"]


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, cfg: ApiSettings) -> None:
    """Serving beyond this machine needs at least one admin user: no open default outside the demo."""
    if is_loopback(host):
        return
    if UserStore(cfg.users_db).count_admins() == 0:
        raise InputError(
            f"refusing to serve on {host} without an admin user; add one with "
            "`tirta users add NAME --role admin`, or serve on 127.0.0.1",
            field="--host",
        )


def serve(
    store: StoreOption = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port", min=1, max=65535)] = 8000,
    users_db: Annotated[
        Path | None, typer.Option("--users-db", help="Users database (SQLite)", show_default=False)
    ] = None,
) -> None:
    """Serve the HTTP API (OpenAPI at /api/v1/openapi.json) over the store."""
    import uvicorn

    from tirta.api import create_app

    cfg = api_settings(store_url=store, users_db=users_db)
    check_exposure(host, cfg)
    uvicorn.run(create_app(cfg), host=host, port=port, log_level="info")
