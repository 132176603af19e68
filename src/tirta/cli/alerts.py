"""``tirta alerts …``: check the rules once, list notifications with their delivery status, send a test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from tirta.cli.ingest import StoreOption
from tirta.config import settings
from tirta.errors import InputError
from tirta.telemetry.schema import utc_time
from tirta.telemetry.store import open_store

app = typer.Typer(
    help="Alerts by e-mail and signed webhooks: rules, deliveries, dead letters.", no_args_is_help=True
)

ConfigArg = Annotated[Path, typer.Argument(help="ALERTS.toml: channels, subscriptions, thresholds")]


@app.command("check")
def check(
    config: ConfigArg,
    store: StoreOption = None,
    now: Annotated[
        str | None, typer.Option("--now", help="Judge the rules at this UTC time (default: now)")
    ] = None,
    wait: Annotated[float, typer.Option(help="Seconds to wait for deliveries before exiting")] = 60.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Run the alert rules once (as `tirta serve` does every 30 s), deliver, print what happened."""
    from tirta.alerts import Dispatcher, collect, load_alerts, notifications

    cfg = load_alerts(config)
    at = pd.Timestamp.now(tz="UTC") if now is None else utc_time(now, "--now")
    with open_store(settings(store_url=store).store_url) as st:
        dispatcher = Dispatcher(st, cfg)
        try:
            counts = dispatcher.submit(collect(st, at, cfg.thresholds), at)
            finished = dispatcher.wait(wait)
        finally:
            dispatcher.close()
        sent = notifications(st)
    summary = {**counts, "delivered_all": finished, "notifications": sent}
    if as_json:
        typer.echo(json.dumps(summary, default=str))
        return
    typer.echo(
        f"{counts['new']} new, {counts['held']} held (quiet hours), {counts['released']} released"
    )
    _table(sent)


@app.command("list")
def list_cmd(
    store: StoreOption = None,
    status: Annotated[
        str | None, typer.Option(help="Only this status: pending, held, retrying, sent or dead")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array")] = False,
) -> None:
    """Notifications with their delivery status, newest first (``--status dead``: the dead letters)."""
    from tirta.alerts import notifications

    if status is not None and status not in ("pending", "held", "retrying", "sent", "dead"):
        raise InputError(f"unknown status {status!r}", field="--status")
    with open_store(settings(store_url=store).store_url) as st:
        found = notifications(st, status)
    if as_json:
        typer.echo(json.dumps(found, default=str))
        return
    _table(found)


@app.command("test")
def test(
    config: ConfigArg,
    subscription: Annotated[str, typer.Option(help="Name of the subscription to send a test to")],
) -> None:
    """Send one test notification through a subscription's channel now, without recording it."""
    from tirta.alerts import Alert, load_alerts
    from tirta.alerts.channels import DeliveryError, send
    from tirta.alerts.dispatch import subscription as find

    cfg = load_alerts(config)
    sub = find(cfg, subscription)
    alert = Alert(
        "test",
        f"test:{pd.Timestamp.now(tz='UTC').isoformat()}",
        "tirta test notification",
        "info",
        pd.Timestamp.now(tz="UTC"),
        {"subscription": sub.name},
    )
    try:
        send(cfg.channels[sub.channel], alert, sub.to)
    except DeliveryError as exc:
        raise InputError(f"not delivered: {exc}", field=f"channels.{sub.channel}") from None
    typer.echo(f"sent through {sub.channel} to {', '.join(sub.to) or 'the webhook'}")


def _table(rows: list[dict[str, object]]) -> None:
    table = Table(show_header=True)
    for col in ("status", "rule", "title", "subscription", "channel", "attempts", "error"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            *(
                str(r.get(c) if r.get(c) is not None else "")
                for c in ("status", "rule", "title", "subscription", "channel", "attempts", "error")
            )
        )
    Console().print(table)
