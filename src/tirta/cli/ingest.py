"""``tirta ingest …``: bring readings into the store; every path validates the same way."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tirta.config import settings
from tirta.network import load_network
from tirta.telemetry.ingest import ingest_file
from tirta.telemetry.store import open_store

app = typer.Typer(help="Ingest telemetry into the store.", no_args_is_help=True)

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="duckdb:///path/file.duckdb or postgresql://user@host:port/db "
        "(default: $TIRTA_STORE_URL, else ./tirta.duckdb)",
        show_default=False,
    ),
]


@app.command("file")
def file(
    path: Annotated[Path, typer.Argument(help="BattLeDIM folder or .xlsx, long .csv or .parquet")],
    store: StoreOption = None,
    sensors: Annotated[
        Path | None,
        typer.Option("--sensors", help="Sensor registry to register first (.json/.toml/.csv)"),
    ] = None,
    network: Annotated[
        Path | None,
        typer.Option(
            "--network",
            help="EPANET model: BattLeDIM columns naming its nodes or links are registered as "
            "sensors (default: $TIRTA_NETWORK; without one, only registered sensors are stored)",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Validate and store a file's readings; running it again adds nothing (all duplicates)."""
    url = settings(store_url=store).store_url
    net_path = network or os.environ.get("TIRTA_NETWORK") or None
    net = load_network(net_path) if net_path else None
    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with open_store(url) as st, Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(f"reading {path.name}", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, description=f"writing {path.name}", completed=done, total=total)

        result = ingest_file(st, path, sensors_file=sensors, network=net, progress=advance)
    if as_json:
        typer.echo(json.dumps(result.to_dict()))
        return
    typer.echo(
        f"{path}: {result.accepted} accepted ({result.corrected} corrections), "
        f"{result.duplicate} duplicate, {result.quarantined} quarantined"
    )
    for reason, n in sorted(result.reasons.items(), key=lambda kv: -kv[1]):
        typer.echo(f"  quarantined, {reason}: {n}")
    if result.reasons.get("unknown sensor") and net is None:
        typer.echo("  (register sensors with --sensors, or give --network to register the columns "
                   "that name its nodes and links)")  # fmt: skip
