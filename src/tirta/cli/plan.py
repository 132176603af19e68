"""``tirta plan …``: hydraulic what-ifs for planning (capacity at a node, extensions, pressure management)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from tirta.network import load_network
from tirta.network.model import builtin_network_path
from tirta.planning.capacity import capacity
from tirta.planning.design import DemandDesign, parse_connection, parse_new_pipe
from tirta.planning.extension import extend
from tirta.planning.pressure import parse_setting, pressure_management

app = typer.Typer(help="Planning what-ifs on the EPANET engine.", no_args_is_help=True)
_err = Console(stderr=True)

NetworkArg = Annotated[str, typer.Argument(help="EPANET .inp file, or 'l-town' for the built-in one")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object")]


@contextmanager
def _working(what: str) -> Iterator[None]:
    """A Rich progress line on stderr while a what-if runs (stdout stays clean for --json)."""
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=_err, transient=True) as bar:
        bar.add_task(what, total=None)
        yield


def _print(out: dict[str, object], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(out, indent=2))
        return
    console = Console()
    for key, value in out.items():
        console.print(f"{key}: {value}", markup=False)


@app.command("capacity")
def capacity_cmd(
    inp: NetworkArg,
    node: Annotated[str, typer.Argument(help="Junction to test")],
    residual: Annotated[float, typer.Option(help="Residual pressure to keep at the node, m")] = 10.0,
    hour: Annotated[
        int | None, typer.Option(help="Hour of the simulated day (default: highest total demand)")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Largest extra demand (L/s) NODE takes at an hour while keeping the residual pressure."""
    path = Path(inp) if Path(inp).exists() else builtin_network_path(inp)  # no wntr needed here
    with _working(f"capacity of {node}"):
        result = capacity(path, node, residual_m=residual, hour=hour)
    _print(result.as_dict(), as_json)


@app.command("extend")
def extend_cmd(
    inp: NetworkArg,
    connect: Annotated[
        list[str] | None, typer.Option("--connect", help="NODE:HOUSEHOLDS new connections (repeat)")
    ] = None,
    new_pipe: Annotated[
        str | None,
        typer.Option(
            "--new-pipe", help="NODE:LENGTH_M:HOUSEHOLDS[:ELEVATION_M], a new pipe to a new junction"
        ),
    ] = None,
    diameter_mm: Annotated[
        float | None,
        typer.Option(help="Diameter of the new pipe, mm (default: smallest standard that serves)"),
    ] = None,
    lpcd: Annotated[float, typer.Option(help="Per-capita use, L/person/day")] = 150.0,
    household_size: Annotated[float, typer.Option(help="Persons per household")] = 4.5,
    peak_factor: Annotated[float, typer.Option(help="Maximum-day peak factor")] = 1.5,
    min_pressure: Annotated[float, typer.Option(help="Minimum service pressure, m")] = 10.0,
    with_nodes: Annotated[
        bool, typer.Option("--nodes", help="Add every junction's minimum pressure to the JSON")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Connect households (and/or lay a new pipe) and check service over the design day (PDA)."""
    connections = [parse_connection(c) for c in connect or []]
    pipe = parse_new_pipe(new_pipe, diameter_mm) if new_pipe else None
    design = DemandDesign(lpcd, household_size, peak_factor)
    net = load_network(inp)
    with _working("design-day runs"):
        result = extend(net, connections, pipe, design=design, min_pressure_m=min_pressure)
    _print(result.as_dict(with_nodes=with_nodes), as_json)


@app.command("pressure")
def pressure_cmd(
    inp: NetworkArg,
    prv: Annotated[list[str] | None, typer.Option("--prv", help="VALVE:SETTING_M (repeat)")] = None,
    source_head: Annotated[
        list[str] | None, typer.Option("--source-head", help="RESERVOIR:HEAD_M (repeat)")
    ] = None,
    n1: Annotated[float, typer.Option(help="FAVAD N1 exponent")] = 1.0,
    leakage_m3h: Annotated[
        float | None, typer.Option(help="Current leakage, m³/h, to express the change in m³/h")
    ] = None,
    min_pressure: Annotated[float, typer.Option(help="Minimum service pressure, m")] = 10.0,
    as_json: JsonOpt = False,
) -> None:
    """A new PRV setting or a lower source head: pressures, service compliance, FAVAD leakage change."""
    prvs = dict(parse_setting(p, "prv") for p in prv or [])
    heads = dict(parse_setting(s, "source-head") for s in source_head or [])
    net = load_network(inp)
    with _working("pressure-management runs"):
        result = pressure_management(
            net, prvs, heads, min_pressure_m=min_pressure, n1=n1, leakage_m3h=leakage_m3h
        )
    _print(result.as_dict(), as_json)
