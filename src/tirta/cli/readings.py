"""``tirta readings …``: read stored readings back, raw or resampled, in SI units."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from tirta.cli.ingest import StoreOption
from tirta.config import settings
from tirta.errors import InputError
from tirta.telemetry.schema import si_column
from tirta.telemetry.store import open_store

app = typer.Typer(help="Query stored readings.", no_args_is_help=True)


@app.command("query")
def query(
    sensors: Annotated[str, typer.Option("--sensors", help="Sensor ids, comma-separated")],
    start: Annotated[str, typer.Option("--from", help="First time (UTC unless an offset is given)")],
    end: Annotated[str, typer.Option("--to", help="End time, exclusive")],
    every: Annotated[str | None, typer.Option("--every", help="Resample: 5min, 1h or 1d")] = None,
    agg: Annotated[str, typer.Option("--agg", help="With --every: mean, min or max")] = "mean",
    store: StoreOption = None,
    fmt: Annotated[str, typer.Option("--format", help="csv or json")] = "csv",
) -> None:
    """A wide table: time first, one column per sensor named with its SI unit (n1_pressure_m)."""
    ids = [s.strip() for s in sensors.split(",") if s.strip()]
    if not ids:
        raise InputError("give at least one sensor id", field="--sensors")
    if fmt not in ("csv", "json"):
        raise InputError(f"unknown format '{fmt}'; expected csv or json", field="--format")
    with open_store(settings(store_url=store).store_url) as st:
        registry = st.sensors()
        unknown = [s for s in ids if s not in registry]
        if unknown:
            raise InputError(f"unknown sensor '{unknown[0]}'", field="--sensors")
        wide = st.read(ids, start, end, every=every, agg=agg)
    wide.columns = [si_column(registry[s]) for s in ids]
    wide.index = wide.index.strftime("%Y-%m-%dT%H:%M:%SZ").rename("time")
    if fmt == "json":
        typer.echo(wide.reset_index().to_json(orient="records"))
    else:
        wide.to_csv(sys.stdout, lineterminator="\n")
