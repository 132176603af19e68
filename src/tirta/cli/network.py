"""``tirta network …``: look at a hydraulic model before trusting it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from tirta.network import load_dmas, load_network, load_sensors
from tirta.network.model import Network
from tirta.network.validate import dma_problems, sensor_problems

if TYPE_CHECKING:
    import pandas as pd

app = typer.Typer(help="Inspect hydraulic models (EPANET .inp).", no_args_is_help=True)


def find_dma_file(net: Network) -> Path | None:
    """The DMA file that sits beside a model: ``<stem>.dmas.toml`` or ``.dmas.geojson``."""
    for suffix in (".dmas.toml", ".dmas.geojson"):
        candidate = net.path.with_name(net.path.stem + suffix)
        if candidate.is_file():
            return candidate
    return None


@app.command("info")
def info(
    inp: Annotated[str, typer.Argument(help="EPANET .inp file, or 'l-town' for the built-in one")],
    dmas: Annotated[
        Path | None,
        typer.Option(help="DMA file (.toml or .geojson); default: <model>.dmas.toml beside it"),
    ] = None,
    sensors: Annotated[
        Path | None,
        typer.Option(help="Sensor registry (.json/.toml/.csv); default: sensors.json beside the model"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Counts of elements, mains length, DMAs, sensors and model problems (DMA boundaries and the
    sensor registry checked against the model)."""
    net = load_network(inp)
    dma_path = dmas or find_dma_file(net)
    areas = load_dmas(dma_path, net) if dma_path else []
    sensor_path = sensors
    if sensor_path is None and net.path.with_name("sensors.json").is_file():
        sensor_path = net.path.with_name("sensors.json")
    registry = load_sensors(sensor_path) if sensor_path else None
    counts = net.counts()
    problems = net.problems() + dma_problems(areas, net)
    if registry is not None:
        problems += sensor_problems(registry, net, areas)
    if as_json:
        out = {
            "network": str(net.path),
            **counts,
            "mains_length_km": round(net.mains_length_km, 3),
            "dmas": [
                {
                    "name": d.name,
                    "nodes": len(d.nodes),
                    "mains_length_km": d.mains_length_km,
                    "connections": d.connections,
                    "inlets": list(d.inlets),
                }
                for d in areas
            ],
            "sensors": (
                {"file": str(sensor_path), **registry.counts()} if registry is not None else None
            ),
            "notes": list(net.load_notes),
            "problems": [
                {
                    "kind": p.kind,
                    "count": len(p.elements),
                    "message": p.message,
                    "examples": list(p.elements[:10]),
                }
                for p in problems
            ],
        }
        typer.echo(json.dumps(out, indent=2))
        return
    console = Console()
    table = Table(title=f"{net.path.name}", show_header=True)
    table.add_column("element")
    table.add_column("count", justify="right")
    for key, value in counts.items():
        table.add_row(key, str(value))
    table.add_row("mains length (km)", f"{net.mains_length_km:.2f}")
    console.print(table)
    if areas:
        t = Table(title=f"DMAs ({dma_path.name if dma_path else ''})")
        for col in ("name", "nodes", "mains km", "connections", "inlets", "outlets"):
            t.add_column(col)
        for d in areas:
            t.add_row(
                d.name,
                str(len(d.nodes)),
                f"{d.mains_length_km or 0:.2f}",
                str(d.connections if d.connections is not None else "-"),
                ", ".join(d.inlets),
                ", ".join(d.outlets),
            )
        console.print(t)
    else:
        console.print("DMAs: none defined (give --dmas FILE)")
    if registry is not None:
        kinds = ", ".join(f"{n} {k}" for k, n in registry.counts().items())
        console.print(f"Sensors ({sensor_path}): {len(registry)}: {kinds}", markup=False, soft_wrap=True)
    for note in net.load_notes:
        console.print(f"note: {note}", markup=False, soft_wrap=True)
    if problems:
        console.print("[bold yellow]Model problems[/]")
        for p in problems:
            examples = ", ".join(p.elements[:8]) + (" …" if len(p.elements) > 8 else "")
            console.print(f"  - {p.kind}: {p.message}: {examples}", markup=False, soft_wrap=True)
    else:
        console.print("Model problems: none found")


@app.command("export")
def export(
    inp: Annotated[str, typer.Argument(help="EPANET .inp file, or 'l-town' for the built-in one")],
    fmt: Annotated[str, typer.Option("--format", help="geojson or gpkg (GeoPackage, one layer each)")],
    out: Annotated[Path, typer.Option("--out", help="File to write (replaced when it exists)")],
    crs: Annotated[
        str | None,
        typer.Option(help="CRS of the model's coordinates, e.g. EPSG:32748 (default: the DMA file's)"),
    ] = None,
    dmas: Annotated[
        Path | None,
        typer.Option(help="DMA file to add as a layer; default: <model>.dmas.toml beside it"),
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            help="Store URL whose leak events to add as a layer, and whose telemetry the DMA KPIs "
            "are computed from (default for the KPIs: $TIRTA_STORE_URL)",
        ),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Add a 'dma_kpis' layer: each DMA's balance, NRW, ILI and night flow (as `tirta "
            "balance dmas`) from this month YYYY-MM (or day); needs --to, a DMA file and a store",
        ),
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="Last month YYYY-MM of the DMA KPIs, included")
    ] = None,
    billing: Annotated[
        Path | None, typer.Option("--billing", help="Billing CSV for the DMA KPIs (else AMR meters)")
    ] = None,
) -> None:
    """Write junctions, tanks, reservoirs (points), pipes, pumps, valves (lines), DMAs and events, SI units.

    With --from/--to, a 'dma_kpis' layer of DMA polygons carries the figures of `tirta balance dmas`
    for that period (SI-named fields, e.g. system_input_m3, nrw_pct, ili, mnf_m3s); it needs the DMA
    file (--dmas or <model>.dmas.toml) and the store holding the DMAs' telemetry (--store or
    $TIRTA_STORE_URL).
    """
    from tirta.network.export import export_layers

    net = load_network(inp)
    dma_path = dmas or find_dma_file(net)
    areas = load_dmas(dma_path, net) if dma_path else []
    kpis = None
    if start is not None or end is not None:
        kpis = _dma_kpis(net, dma_path, store, start, end, billing)
    events: list[dict[str, object]] = []
    if store is not None:
        from tirta.leaks.events import list_events
        from tirta.telemetry.store import open_store

        with open_store(store) as s:
            events = [e.to_dict() for e in list_events(s)]
    summary = export_layers(net, out, fmt, crs=crs, dmas=areas, events=events, dma_kpis=kpis)
    layers = ", ".join(f"{k} {v}" for k, v in summary.layers.items())
    where = summary.crs or "no CRS (the model's own coordinates)"
    Console(stderr=True).print(
        f"wrote {summary.path} ({summary.format}, {where}): {layers}", markup=False
    )


def _dma_kpis(
    net: Network,
    dma_path: Path | None,
    store: str | None,
    start: str | None,
    end: str | None,
    billing: Path | None,
) -> pd.DataFrame:
    """Every DMA's balance over [start, end] as `tirta balance dmas` computes it, as a KPI table."""
    import os

    from tirta.balance.dmabalance import parse_month_range
    from tirta.balance.gis import dma_kpi_table
    from tirta.balance.parallel import DmaTask, balance_all
    from tirta.config import STORE_ENV
    from tirta.errors import InputError

    if start is None or end is None:
        missing = "--to" if end is None else "--from"
        raise InputError("the DMA KPIs need both --from and --to (YYYY-MM)", field=missing)
    if dma_path is None:
        raise InputError(
            f"the DMA KPIs need a DMA file: give --dmas FILE (none beside the model as "
            f"{net.path.stem}.dmas.toml)",
            field="--dmas",
        )
    url = store or os.environ.get(STORE_ENV)
    if not url:
        raise InputError(
            f"the DMA KPIs need the store with the DMAs' telemetry: give --store URL or set {STORE_ENV}",
            field="--store",
        )
    if billing is not None and not billing.is_file():
        raise InputError("billing file not found", file=billing, field="--billing")
    t0, t1 = parse_month_range(start, end)
    tasks = [
        DmaTask(url, d.name, str(dma_path), str(net.path), t0, t1, str(billing) if billing else None)
        for d in load_dmas(dma_path, net)
    ]
    with Console(stderr=True).status(f"balancing {len(tasks)} DMAs"):
        reports = balance_all(tasks)
    return dma_kpi_table(reports, t0.isoformat(), t1.isoformat())


@app.command("synth")
def synth(
    nodes: Annotated[int, typer.Option("--nodes", help="Number of junctions (at least 50)")],
    out: Annotated[Path, typer.Option("--out", help="Model to write, e.g. city.inp")],
    seed: Annotated[int, typer.Option("--seed", help="The same seed gives the same files")] = 0,
) -> None:
    """A synthetic city: street grid, trunk mains, pressure zones with PRVs, DMAs and sensors."""
    from tirta.network.synth import synth_city, write_city

    with Console(stderr=True).status(f"generating {nodes:,} junctions"):
        city = synth_city(nodes, seed)
        inp, dma_file, sensor_file = write_city(city, out)
    typer.echo(
        f"wrote {inp}: {city.junctions:,} junctions, {city.zones} pressure zones, {city.dmas} DMAs, "
        f"{city.connections:,} connections; DMAs in {dma_file.name}, sensors in {sensor_file.name}"
    )
