"""``tirta kpis …``: the indicator set of a utility's period inputs, and peers side by side."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from tirta.errors import InputError
from tirta.kpis import INDICATORS, KpiSet, UtilityInputs, compute_kpis, load_utility
from tirta.kpis.compare import compare, load_peers
from tirta.reports.kpis import write_compare_report
from tirta.reports.render import write_pdf

app = typer.Typer(help="Performance indicators (IBNET ids), peer benchmarking.", no_args_is_help=True)


def _fmt(value: Any, digits: int = 4) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


@app.command("compute")
def compute_cmd(
    utility: Annotated[
        Path, typer.Argument(help="UTILITY.toml: utility, from, to and the input variables")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            help="Complete missing volumes from this store's DMA balances (duckdb:///… or postgresql://…)",
            show_default=False,
        ),
    ] = None,
    dmas: Annotated[
        Path | None, typer.Option("--dmas", help="DMA file (with --store; default L-Town's)")
    ] = None,
    network: Annotated[
        Path | None, typer.Option("--network", help="EPANET model (with --store)")
    ] = None,
    billing: Annotated[Path | None, typer.Option("--billing", help="Billing CSV (with --store)")] = None,
) -> None:
    """Every indicator with unit, period, inputs used and flags; no value (and the reason) when impossible."""
    inputs = load_utility(utility)
    kpis = compute_kpis(inputs) if store is None else _with_store(inputs, store, dmas, network, billing)
    if as_json:
        typer.echo(json.dumps(kpis.to_dict(), indent=2))
        return
    table = Table(title=f"{kpis.utility}: {kpis.start} to {kpis.end} ({kpis.days} days)")
    for col in ("id", "indicator", "value", "unit", "flags / reason"):
        table.add_column(col, justify="right" if col == "value" else "left")
    for kid, v in kpis.indicators.items():
        note = v.reason or ", ".join(v.flags)
        table.add_row(kid, v.name, v.display or "-", v.unit, note)
    console = Console(width=max(Console().width, 130))
    console.print(table)
    for note in kpis.notes:
        console.print(f"note: {note}", markup=False)


def _with_store(
    inputs: UtilityInputs, url: str, dmas: Path | None, network: Path | None, billing: Path | None
) -> KpiSet:
    """The KPI set with the volumes the file lacks read from the store's DMA balances (progress bar)."""
    from tirta.balance import load_billing
    from tirta.cli.balance import _default_dmas
    from tirta.config import settings
    from tirta.kpis.fromstore import kpis_with_store
    from tirta.network import load_dmas, load_network
    from tirta.telemetry.store import open_store

    with open_store(settings(store_url=url).store_url) as st:
        net = load_network(network) if network is not None else None
        dma_file = dmas
        if dma_file is None:
            dma_file, inp = _default_dmas(st)
            net = net or load_network(inp)
        if net is None:
            raise InputError("give the EPANET model with --network", field="--network")
        zones = load_dmas(dma_file, net)
        bills = load_billing(billing) if billing is not None else None
        with Progress(console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task("DMA balances", total=len(zones))
            return kpis_with_store(
                inputs, st, net, zones, bills, lambda done, _: bar.update(task, completed=done)
            )


@app.command("definitions")
def definitions_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """The indicator definitions: id, name, unit, formula, inputs, edge rules and source."""
    rows: list[dict[str, Any]] = [
        {
            "id": i.id,
            "name": i.name,
            "unit": i.unit,
            "formula": i.formula_text,
            "inputs": list(i.inputs()),
            "zero_denominator": i.denominator_text,
            "annualised": i.annualised,
            "money": i.money,
            "display_cap": i.cap,
            "periods": i.periods,
            "source": i.source,
        }
        for i in INDICATORS
    ]
    if as_json:
        typer.echo(json.dumps({"indicators": rows}, indent=2))
        return
    table = Table(title="Indicator definitions (D = days in the period)")
    for col in ("id", "indicator", "unit", "formula", "source"):
        table.add_column(col)
    for i in INDICATORS:
        table.add_row(i.id, i.name, i.unit, i.formula_text, i.source)
    Console(width=max(Console().width, 160)).print(table)


def _parse_fx(items: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items:
        name, _, rate = item.rpartition("=")
        try:
            value = float(rate)
        except ValueError:
            value = -1.0
        if not name or not value > 0:
            raise InputError(f"expected UTILITY=RATE (LCU per US$, above 0), got {item!r}", field="--fx")
        out[name] = value
    return out


@app.command("compare")
def compare_cmd(
    files: Annotated[
        list[Path], typer.Argument(help="KPI JSON files (tirta kpis compute --json) or IBNET-style CSVs")
    ],
    report: Annotated[
        Path | None, typer.Option("--report", help="Write the comparison report (HTML)")
    ] = None,
    pdf: Annotated[Path | None, typer.Option("--pdf", help="Also print the report to PDF")] = None,
    fx: Annotated[
        list[str] | None, typer.Option("--fx", help="UTILITY=RATE: period-average LCU per US$")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the table as one JSON object")] = False,
) -> None:
    """The side-by-side table of the utilities and periods; money in US$ at each period's rate."""
    comparison = compare(load_peers(files), _parse_fx(fx or []))
    if report is not None or pdf is not None:
        html = report if report is not None else Path(str(pdf)).with_suffix(".html")
        with Progress(console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task("report: charts", total=len(comparison.rows) + (1 if pdf else 0))
            write_compare_report(
                comparison, html, None, lambda done, _: bar.update(task, completed=done)
            )
            if pdf is not None:
                bar.update(task, description="report: printing the PDF (Chromium)")
                write_pdf(html, pdf)
                bar.update(task, completed=len(comparison.rows) + 1)
    if as_json:
        typer.echo(json.dumps(comparison.to_dict(), indent=2))
        return
    table = Table(title="Performance indicators side by side (money in US$ at the period-average rate)")
    table.add_column("id")
    table.add_column("indicator")
    table.add_column("unit")
    for col in comparison.columns:
        table.add_column(col["label"], justify="right")
    for row in comparison.rows:
        cells = []
        for c in row["cells"]:
            text = c["display"] or "-"
            if c["bands"]:
                text += " (" + "; ".join(f"{b['scheme']}: {b['label']}" for b in c["bands"]) + ")"
            cells.append(text)
        table.add_row(row["id"], row["name"], row["unit"], *cells)
    console = Console(width=max(160, 60 + 28 * len(comparison.columns)))
    console.print(table)
    rates = ", ".join(
        f"{c['utility']}: {_fmt(c['fx_usd'])} {c['currency'] or 'LCU'}/US$" for c in comparison.columns
    )
    console.print(f"rates used: {rates}", markup=False)
    if report is not None:
        console.print(f"report: {report}", markup=False)
