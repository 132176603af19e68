"""``tirta sensors …``: the sensor registry held in the store."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tirta.cli.ingest import StoreOption
from tirta.config import settings
from tirta.network.sensors import load_sensors
from tirta.telemetry.schema import si_column
from tirta.telemetry.store import open_store

app = typer.Typer(help="The sensor registry in the store.", no_args_is_help=True)


@app.command("list")
def list_(
    store: StoreOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array")] = False,
) -> None:
    """Registered sensors: id, kind, unit as received, element, valid SI range."""
    with open_store(settings(store_url=store).store_url) as st:
        registry = st.sensors()
    if as_json:
        rows = [
            {
                "id": s.id,
                "kind": s.kind,
                "unit": s.unit,
                "node": s.node,
                "link": s.link,
                "dma": s.dma,
                "valid_min": s.valid_min if math.isfinite(s.valid_min) else None,
                "valid_max": s.valid_max if math.isfinite(s.valid_max) else None,
                "installed": s.installed.isoformat() if s.installed else None,
                "column": si_column(s),
            }
            for s in registry
        ]
        typer.echo(json.dumps(rows))
        return
    table = Table(title=f"{len(registry)} sensors")
    for col in ("id", "kind", "unit", "element", "valid range (SI)"):
        table.add_column(col)
    for s in registry:
        table.add_row(s.id, s.kind, s.unit, s.element, f"{s.valid_min:g} … {s.valid_max:g}")
    Console().print(table)


@app.command("add")
def add(
    path: Annotated[Path, typer.Argument(help="Sensor registry file (.json, .toml or .csv)")],
    store: StoreOption = None,
) -> None:
    """Register the sensors of a file, replacing those with the same id."""
    registry = load_sensors(path)
    with open_store(settings(store_url=store).store_url) as st:
        n = st.add_sensors(registry, replace=True)
    typer.echo(f"{n} sensors registered from {path}")
