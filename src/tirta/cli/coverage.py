"""``tirta coverage …``: piped-water coverage by district, the road to the target, where to start."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from tirta.coverage import CoverageReport, coverage_report, load_districts
from tirta.network import load_network

app = typer.Typer(
    help="Coverage by district, projection to a target, ranked list.", no_args_is_help=True
)


def _fmt(value: object, spec: str = ",.0f") -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    return format(value, spec) if isinstance(value, int | float) else str(value)


def _table(rep: CoverageReport) -> None:
    console = Console()
    t = Table(title=f"Coverage (target {rep.target_pct:g} % by {rep.target_year})")
    for col in (
        "district",
        "year",
        "population",
        "coverage %",
        "unserved",
        "conn./yr now",
        "needed/yr",
        f"{rep.target_year} at rate %",
    ):
        t.add_column(col, justify="left" if col == "district" else "right")
    for name, r in rep.projection.iterrows():
        t.add_row(
            str(name),
            str(int(r["year"])),
            _fmt(r["population"]),
            _fmt(r["coverage_pct"], ".1f"),
            _fmt(r["unserved_population"]),
            _fmt(r["connections_per_year"]),
            _fmt(r["connections_needed_per_year"]),
            _fmt(r["projected_coverage_pct"], ".1f"),
        )
    tot = rep.totals
    t.add_row(
        "total",
        "",
        _fmt(tot["population"]),
        _fmt(tot["coverage_pct"], ".1f"),
        _fmt(tot["unserved_population"]),
        _fmt(tot["connections_per_year"]),
        _fmt(tot["connections_needed_per_year"]),
        "",
    )
    console.print(t)
    r = Table(title="Connect first")
    for col in (
        "#",
        "district",
        "unserved",
        "node",
        "distance m",
        "headroom L/s",
        "need L/s",
        "priority",
    ):
        r.add_column(col, justify="left" if col in ("district", "node") else "right")
    for row in rep.ranking.to_dict(orient="records"):
        r.add_row(
            str(row["rank"]),
            row["district"],
            _fmt(row["unserved_population"]),
            _fmt(row["node"]),
            _fmt(row["distance_m"]),
            _fmt(row["headroom_lps"], ".1f"),
            _fmt(row["unserved_demand_lps"], ".2f"),
            _fmt(row["priority"]),
        )
    console.print(r)
    for w in rep.warnings:
        console.print(f"warning: {w}", markup=False)


@app.command("report")
def report_cmd(
    districts: Annotated[Path, typer.Argument(help="Districts .csv or .geojson")],
    target_pct: Annotated[float, typer.Option(help="Coverage target, %")] = 100.0,
    target_year: Annotated[int, typer.Option(help="Year the target is due")] = 2030,
    network: Annotated[
        str | None, typer.Option(help="EPANET .inp (or 'l-town'): adds distance and hydraulic headroom")
    ] = None,
    network_crs: Annotated[
        str | None, typer.Option(help="CRS of the network's coordinates when the districts have another")
    ] = None,
    residual: Annotated[float, typer.Option(help="Residual pressure for the headroom, m")] = 10.0,
    lpcd: Annotated[float, typer.Option(help="Per-capita use of new connections, L/person/day")] = 150.0,
    peak_factor: Annotated[float, typer.Option(help="Peak factor of new demand")] = 1.5,
    html: Annotated[Path | None, typer.Option(help="Write the planning report as HTML")] = None,
    pdf: Annotated[Path | None, typer.Option(help="Write the planning report as PDF")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Coverage %, unserved population and connections needed a year, per district and in total."""
    dist = load_districts(districts)
    net = load_network(network) if network else None
    if net is not None and network_crs is None:  # the CRS a DMA file beside the model declares
        from tirta.cli.network import find_dma_file
        from tirta.network import load_dmas

        dma_file = find_dma_file(net)
        dmas = load_dmas(dma_file, net) if dma_file else []
        network_crs = next((d.crs for d in dmas if d.crs), None)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        bar.add_task("coverage, projection and hydraulic headroom", total=None)
        rep = coverage_report(
            dist,
            target_pct=target_pct,
            target_year=target_year,
            net=net,
            network_crs=network_crs,
            residual_m=residual,
            lpcd=lpcd,
            peak_factor=peak_factor,
        )
    if html or pdf:
        from tirta.reports.planning import write_planning_report

        write_planning_report(rep, net, html=html, pdf=pdf, network_crs=network_crs)
    if as_json:
        typer.echo(json.dumps(rep.as_dict(), indent=2))
    else:
        _table(rep)
