"""tirta's command line: one sub-command group per domain, each a thin shell over domain functions.

Errors derived from :class:`tirta.errors.TirtaError` print one line (file, line, field, what was
expected) and exit with status 2; no traceback.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from tirta.errors import TirtaError

__all__ = ["app", "main"]

app = typer.Typer(
    name="tirta",
    help="tirta: operate a water utility's network: model, telemetry, leaks, water balance.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def _register() -> None:
    from tirta.cli import (
        alerts,
        balance,
        coverage,
        demo,
        ingest,
        ingest_mqtt,
        kpis,
        leaks,
        network,
        plan,
        plant,
        quarantine,
        readings,
        sensors,
        serve,
        simulate,
        users,
        waste,
    )

    app.add_typer(network.app, name="network")
    app.command("simulate")(simulate.simulate_cmd)
    app.command("demo")(demo.demo)
    app.add_typer(ingest.app, name="ingest")
    ingest.app.command("mqtt")(ingest_mqtt.mqtt)
    app.add_typer(readings.app, name="readings")
    app.add_typer(sensors.app, name="sensors")
    app.add_typer(leaks.app, name="leaks")
    app.add_typer(balance.app, name="balance")
    app.add_typer(kpis.app, name="kpis")
    app.add_typer(users.app, name="users")
    app.command("serve")(serve.serve)
    app.add_typer(alerts.app, name="alerts")
    app.add_typer(quarantine.app, name="quarantine")
    app.add_typer(waste.app, name="waste")
    app.add_typer(plan.app, name="plan")
    app.add_typer(coverage.app, name="coverage")
    app.add_typer(plant.app, name="plant")


_register()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``tirta`` script."""
    try:
        app(args=argv, prog_name="tirta")
    except TirtaError as exc:
        err_console.print(f"error: {exc}", markup=False)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted", markup=False)
        sys.exit(130)
