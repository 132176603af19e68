"""``tirta balance …``: the top-down water balance, NRW and leakage indicators of an audit file."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from tirta.balance import audit_report, band_schemes, load_audit, run_audit
from tirta.errors import InputError

app = typer.Typer(help="Water balance, NRW and leakage KPIs (IWA/AWWA).", no_args_is_help=True)


def _fmt(value: Any, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:,.{digits}f}"


@app.command("compute")
def compute(
    audit: Annotated[
        Path, typer.Argument(help="Audit file (TOML with system, volumes and optional costs tables)")
    ],
    scheme: Annotated[
        str, typer.Option(help="ILI banding scheme: wbi_developing or wbi_developed")
    ] = "wbi_developing",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Water balance components with 95 % margins, NRW, real/apparent losses per connection, UARL, ILI."""
    schemes = band_schemes()
    if scheme not in schemes:
        raise InputError(
            f"unknown banding scheme '{scheme}'; expected one of {', '.join(sorted(schemes))}",
            field="--scheme",
        )
    result = run_audit(load_audit(audit), scheme)
    report = audit_report(result)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    console = Console()
    days = report["period_days"]
    table = Table(title=f"Water balance: {audit.name} ({days:g} days, m³)")
    table.add_column("component")
    table.add_column("value", justify="right")
    table.add_column("± 95 %", justify="right")
    table.add_column("method")
    for name, comp in report["components"].items():
        margin = comp["margin"]
        pct = comp["margin_pct"]
        plus = f"{_fmt(margin)} ({pct:.1f} %)" if pct is not None else _fmt(margin)
        table.add_row(name.replace("_", " "), _fmt(comp["value"]), plus, comp["method"])
    console.print(table)

    k = Table(title="Indicators")
    k.add_column("indicator")
    k.add_column("value", justify="right")
    low, high = report["real_losses_ci95"]
    ili_low, ili_high = report["ili_ci95"]
    rows = [
        ("NRW (% of SIV)", _fmt(report["nrw_pct"], 2)),
        ("real losses (L/conn/day pressurised)", _fmt(report["real_losses_l_per_conn_day"], 1)),
        ("real losses (m³/km mains/day)", _fmt(report["real_losses_m3_per_km_day"], 1)),
        ("apparent losses (L/conn/day)", _fmt(report["apparent_losses_l_per_conn_day"], 1)),
        ("real losses 95 % interval (m³)", f"{_fmt(low)} – {_fmt(high)}"),
        ("UARL (m³)", _fmt(report["uarl_m3"])),
        ("ILI", _fmt(report["ili"], 2)),
        ("ILI 95 % interval", f"{_fmt(ili_low, 1)} – {_fmt(ili_high, 1)}"),
        (f"band ({scheme})", report["band"] or "-"),
        ("UARL validity", report["validity"]["status"]),
        ("data validity score (/100)", _fmt(report["data_validity_score"], 0)),
    ]
    if report["nrw_cost"] is not None:
        rows.append(("NRW cost (per period)", _fmt(report["nrw_cost"]["total"], 0)))
    for label, value in rows:
        k.add_row(label, value)
    console.print(k)
    for w in report["warnings"]:
        console.print(f"[bold yellow]warning:[/] {w}", highlight=False)
