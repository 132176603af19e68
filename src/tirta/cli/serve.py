"""``tirta serve``: one process with the API, MQTT ingestion and the scheduled analytics over one store.

Refuses an open host without an admin.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import socket
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from tirta.api.settings import ApiSettings, api_settings
from tirta.api.store_users import open_users
from tirta.cli.ingest import StoreOption
from tirta.errors import InputError

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["check_exposure", "check_model", "free_port", "is_loopback", "run_server", "serve"]


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
    from tirta.api.users import UserStore
    from tirta.telemetry.store import open_store

    if cfg.users_db is not None:
        admins = UserStore(cfg.users_db).count_admins()
    else:
        with open_store(cfg.store_url) as store:
            admins = open_users(None, store).count_admins()
    if admins == 0:
        raise InputError(
            f"refusing to serve on {host} without an admin user; add one with "
            "`tirta users add NAME --role admin`, or serve on 127.0.0.1",
            field="--host",
        )


def check_model(cfg: ApiSettings) -> None:
    """Read the configured model, DMAs and audit before serving: a bad file is one line now, not an
    error on the first request; say which model is served (and when it is the built-in one)."""
    from tirta.balance import load_audit, load_billing
    from tirta.network import load_dmas, load_network

    for path in (cfg.network, cfg.dmas, cfg.audit_file, cfg.billing):
        if path is not None and not path.is_file():
            raise InputError("file not found", file=path)
    net = load_network(cfg.network)
    zones = load_dmas(cfg.dmas, net)
    if cfg.audit_file is not None:
        load_audit(cfg.audit_file)
    if cfg.billing is not None:
        load_billing(cfg.billing)
    console = Console(stderr=True)
    console.print(
        f"network: {cfg.network} ({len(net.nodes)} nodes, {len(net.links)} links), "
        f"DMAs: {cfg.dmas} ({', '.join(d.name for d in zones) or 'none'})",
        highlight=False,
        soft_wrap=True,
    )
    if cfg.network_notice:
        console.print(f"note: {cfg.network_notice}", highlight=False, soft_wrap=True)


def log_to_stderr(level: int = logging.INFO) -> None:
    """tirta's own log lines (jobs, MQTT, runtime) on stderr beside uvicorn's, in its format."""
    logger = logging.getLogger("tirta")
    if not any(getattr(h, "_tirta_serve", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)-9s %(name)s: %(message)s"))
        handler._tirta_serve = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


def free_port(host: str, port: int) -> int:
    """``port`` when nothing listens on it yet, else a free port the system picks."""
    for wanted in (port, 0):
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
            try:
                sock.bind((host, wanted))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise InputError(f"no free port on {host}", field="--port")


def run_server(
    app: FastAPI, host: str, port: int, *, for_s: float | None = None, log_level: str = "info"
) -> None:
    """Serve ``app`` with uvicorn until Ctrl-C, or for ``for_s`` seconds; shuts down cleanly."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level=log_level))
    on_signal = server.handle_exit

    def handle_exit(sig: int, frame: FrameType | None) -> None:
        app.state.tirta_stopping = True  # open event streams end, else uvicorn waits for them
        on_signal(sig, frame)

    server.handle_exit = handle_exit  # type: ignore[method-assign]
    timer = None
    if for_s is not None:

        def finish() -> None:
            app.state.tirta_stopping = True
            server.should_exit = True

        timer = threading.Timer(for_s, finish)
        timer.daemon = True
        timer.start()
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C after its clean shutdown: done, not an error
        pass
    finally:
        if timer is not None:
            timer.cancel()


def serve(
    store: StoreOption = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port", min=1, max=65535)] = 8000,
    users_db: Annotated[
        Path | None,
        typer.Option(
            "--users-db",
            help="Keep users in this SQLite file (default: in the store, shared by every process)",
            show_default=False,
        ),
    ] = None,
    mqtt: Annotated[
        str | None,
        typer.Option(
            "--mqtt",
            help="Ingest readings from this MQTT broker (mqtt://host:1883; default $TIRTA_MQTT_URL)",
            show_default=False,
        ),
    ] = None,
    detect_every: Annotated[
        str | None,
        typer.Option(
            "--detect-every",
            help="Run leak detection this often: 300, 30s, 5min (default $TIRTA_DETECT_EVERY, else 5min)",
            show_default=False,
        ),
    ] = None,
    train_from: Annotated[
        str | None,
        typer.Option("--train-from", help="Start of the leak-free calibration (or $TIRTA_TRAIN_FROM)"),
    ] = None,
    train_to: Annotated[
        str | None,
        typer.Option("--train-to", help="End of the calibration, exclusive (or $TIRTA_TRAIN_TO)"),
    ] = None,
    billing: Annotated[
        Path | None,
        typer.Option(
            "--billing",
            help="Billing CSV for the DMA balances (default $TIRTA_BILLING, else AMR meters)",
            show_default=False,
        ),
    ] = None,
    kpis_file: Annotated[
        Path | None,
        typer.Option(
            "--kpis",
            help="Published KPI inputs: a UTILITY.toml or a directory of them, one period each "
            "(default $TIRTA_KPIS_FILE)",
            show_default=False,
        ),
    ] = None,
    network: Annotated[
        Path | None,
        typer.Option(
            "--network",
            help="The utility's EPANET model (default $TIRTA_NETWORK, else the built-in L-Town)",
            show_default=False,
        ),
    ] = None,
    dmas: Annotated[
        Path | None,
        typer.Option(
            "--dmas",
            help="Its DMA file (default $TIRTA_DMAS, else <model>.dmas.toml beside it)",
            show_default=False,
        ),
    ] = None,
    audit: Annotated[
        Path | None,
        typer.Option(
            "--audit",
            help="Published water audit (AUDIT.toml) of the public page (default $TIRTA_AUDIT_FILE)",
            show_default=False,
        ),
    ] = None,
    for_s: Annotated[
        float | None,
        typer.Option("--for", help="Stop after this many seconds (default: until Ctrl-C)", min=0.1),
    ] = None,
) -> None:
    """Serve the HTTP API (OpenAPI at /api/v1/openapi.json), MQTT ingestion and the scheduled
    analytics (leak detection every few minutes, night flow and balance nightly) in one process."""
    from tirta.api import create_app
    from tirta.server import Runtime, runtime_settings

    for path, flag, what in (
        (billing, "--billing", "billing file"),
        (network, "--network", "network model"),
        (dmas, "--dmas", "DMA file"),
        (audit, "--audit", "audit file"),
    ):
        if path is not None and not path.is_file():
            raise InputError(f"{what} not found", file=path, field=flag)
    cfg = api_settings(
        store_url=store,
        users_db=users_db,
        billing=billing,
        network=network,
        dmas=dmas,
        audit_file=audit,
        kpis_file=kpis_file,
    )
    if cfg.kpis_file is not None:
        from tirta.kpis.opendata import load_published

        load_published(cfg.kpis_file)  # a bad file stops here with file, line and field, not on the page
    check_model(cfg)
    check_exposure(host, cfg)
    if bool(train_from) != bool(train_to):
        raise InputError("give both --train-from and --train-to", field="--train-to")
    train = (train_from, train_to) if train_from and train_to else None
    rcfg = runtime_settings(detect_every=detect_every, train=train, mqtt_url=mqtt)
    if billing is not None:
        rcfg = dataclasses.replace(rcfg, billing=billing)
    runtime = Runtime(rcfg)
    log_to_stderr()
    run_server(create_app(cfg, runtime=runtime), host, port, for_s=for_s)
