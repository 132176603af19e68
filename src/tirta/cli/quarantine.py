"""``tirta quarantine …``: review rejected readings, release them after a fix, or drop them (audited)."""

from __future__ import annotations

import json
from getpass import getuser
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tirta.cli.ingest import StoreOption
from tirta.config import settings
from tirta.errors import InputError
from tirta.telemetry import review
from tirta.telemetry.store import open_store

app = typer.Typer(
    help="Review quarantined readings: list, show, release (re-validate), drop.", no_args_is_help=True
)

Reason = Annotated[str | None, typer.Option("--reason", help="Only rows quarantined for this reason")]
SensorOpt = Annotated[str | None, typer.Option("--sensor", help="Only rows of this sensor id")]
Who = Annotated[
    str | None, typer.Option("--who", help="Who acts, for the audit log (default: your login)")
]
Note = Annotated[str | None, typer.Option("--note", help="Why (kept in the audit log)")]
Keys = Annotated[
    list[str] | None, typer.Argument(help="Row keys (from `list`); or select with --reason/--sensor")
]


@app.command("list")
def list_cmd(
    store: StoreOption = None,
    reason: Reason = None,
    sensor: SensorOpt = None,
    source: Annotated[str | None, typer.Option("--source", help="Only rows from this source")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array")] = False,
) -> None:
    """Rejected readings with their reason, source, raw payload and file line, newest first."""
    with open_store(settings(store_url=store).store_url) as st:
        rows = review.entries(st, reason=reason, sensor=sensor, source=source)
    if as_json:
        typer.echo(json.dumps(rows))
        return
    table = Table(title=f"{len(rows)} quarantined")
    for col in ("key", "reason", "sensor", "source", "line", "payload"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            r["key"][:12],
            r["reason"],
            r["sensor"] or "",
            r["source"],
            str(r["line"] or ""),
            r["payload"] or "",
        )
    Console().print(table)


@app.command("show")
def show(
    key: Annotated[str, typer.Argument(help="Row key (the first characters are enough)")],
    store: StoreOption = None,
) -> None:
    """One row in full, and what the audit log says of it."""
    with open_store(settings(store_url=store).store_url) as st:
        rows = [r for r in review.entries(st) if r["key"].startswith(key)]
        log = [a for a in review.audit_log(st) if a["key"].startswith(key)]
    if len(rows) != 1 and not log:
        raise InputError(f"{len(rows)} quarantined rows match key {key!r}", field="key")
    typer.echo(json.dumps({"row": rows[0] if rows else None, "audit": log}, indent=2))


def _expand(st: object, keys: list[str] | None) -> list[str] | None:
    """Full keys from prefixes (as `list` shows them)."""
    if not keys:
        return None
    known = [r["key"] for r in review.entries(st)]  # type: ignore[arg-type]
    out = []
    for k in keys:
        match = [full for full in known if full.startswith(k)]
        if len(match) != 1:
            raise InputError(f"{len(match)} quarantined rows match key {k!r}", field="keys")
        out.append(match[0])
    return out


@app.command("release")
def release(
    keys: Keys = None,
    store: StoreOption = None,
    reason: Reason = None,
    sensor: SensorOpt = None,
    who: Who = None,
    note: Note = None,
) -> None:
    """Re-validate rows after a fix (a sensor registered, a unit corrected): stored ones leave the quarantine."""
    with open_store(settings(store_url=store).store_url) as st:
        got = review.release(
            st, _expand(st, keys), reason=reason, sensor=sensor, who=who or getuser(), note=note
        )
    typer.echo(json.dumps(got.to_dict()))


@app.command("drop")
def drop(
    keys: Keys = None,
    store: StoreOption = None,
    reason: Reason = None,
    sensor: SensorOpt = None,
    who: Who = None,
    note: Note = None,
) -> None:
    """Delete rows for good (audited)."""
    with open_store(settings(store_url=store).store_url) as st:
        got = review.drop(
            st, _expand(st, keys), reason=reason, sensor=sensor, who=who or getuser(), note=note
        )
    typer.echo(json.dumps(got.to_dict()))
