"""``tirta kpis …``: the indicator set of a utility's period inputs, and peers side by side."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from tirta.errors import InputError
from tirta.kpis import compute_kpis, load_utility
from tirta.kpis.compare import compare, load_peers
from tirta.reports.kpis import write_compare_report

app = typer.Typer(help="Performance indicators (IBNET ids), peer benchmarking.", no_args_is_help=True)


def _fmt(value: Any, digits: int = 4) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


@app.command("compute")
def compute_cmd(
    utility: Annotated[
        Path, typer.Argument(help="UTILITY.toml: utility, from, to and the input variables")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Every indicator with unit, period, inputs used and flags; no value (and the reason) when impossible."""
    kpis = compute_kpis(load_utility(utility))
    if as_json:
        typer.echo(json.dumps(kpis.to_dict(), indent=2))
        return
    table = Table(title=f"{kpis.utility}: {kpis.start} to {kpis.end} ({kpis.days} days)")
    for col in ("id", "indicator", "value", "unit", "flags / reason"):
        table.add_column(col, justify="right" if col == "value" else "left")
    for kid, v in kpis.indicators.items():
        note = v.reason or ", ".join(v.flags)
        table.add_row(kid, v.name, v.display or "-", v.unit, note)
    Console(width=max(Console().width, 130)).print(table)


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
        write_compare_report(comparison, report or pdf.with_suffix(".html"), pdf)  # type: ignore[union-attr]
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
