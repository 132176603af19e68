"""``tirta balance …``: the water balance of an audit file or of a DMA from the store, and their reports."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from tirta.balance import (
    BalanceOptions,
    NightFlowOptions,
    audit_report,
    band_schemes,
    dma_balance,
    dma_balance_report,
    load_audit,
    load_billing,
    parse_month_range,
    resolve_zone,
    run_audit,
)
from tirta.balance.nightflow import UK_HOUSEHOLD_NIGHT_USE_L_H
from tirta.config import settings
from tirta.errors import InputError
from tirta.network import load_dmas, load_network
from tirta.network.model import builtin_network_path
from tirta.reports import audit_html, audit_rows, dma_html, dma_rows, rows_to_csv, write_report
from tirta.reports.balance import kpi_warning_lines
from tirta.telemetry.store import Store, open_store

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="duckdb:///path/file.duckdb or postgresql://user@host:port/db "
        "(default: $TIRTA_STORE_URL, else ./tirta.duckdb)",
        show_default=False,
    ),
]

app = typer.Typer(help="Water balance, NRW and leakage KPIs (IWA/AWWA).", no_args_is_help=True)


def _flagged(row: dict[str, Any], key: str, digits: int) -> str:
    """A KPI of a report row, marked ⚠ when it fails a sanity check (its warning is printed below)."""
    return _fmt(row.get(key), digits) + (" ⚠" if (row.get("kpi_warnings") or {}).get(key) else "")


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
        ("NRW (% of SIV)", _flagged(report, "nrw_pct", 2)),
        ("real losses (L/conn/day pressurised)", _flagged(report, "real_losses_l_per_conn_day", 1)),
        ("real losses (m³/km mains/day)", _fmt(report["real_losses_m3_per_km_day"], 1)),
        ("apparent losses (L/conn/day)", _fmt(report["apparent_losses_l_per_conn_day"], 1)),
        ("real losses 95 % interval (m³)", f"{_fmt(low)} – {_fmt(high)}"),
        ("UARL (m³)", _fmt(report["uarl_m3"])),
        ("ILI", _flagged(report, "ili", 2)),
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
    for w in kpi_warning_lines([report]) + report["warnings"]:
        console.print(f"[bold yellow]warning:[/] {w}", highlight=False)


def _default_dmas(store: Store) -> tuple[Path, Path]:
    """L-Town's DMA file and model when every sensor of the store sits on an L-Town node or link."""
    inp = builtin_network_path("l-town")
    sensors = store.sensors()
    if len(sensors) == 0:
        raise InputError(
            f"the store {store.display_url} has no sensors: give --dmas FILE", field="--dmas"
        )
    try:
        sensors.check_against(load_network(inp))
    except InputError:
        raise InputError(
            "the store's sensors are not L-Town's: give the DMA file with --dmas (and the model with "
            "--network, needed for meter directions, tanks and mains lengths)",
            field="--dmas",
        ) from None
    return inp.with_name("L-TOWN.dmas.toml"), inp


@app.command("dma")
def dma(
    name: Annotated[str, typer.Argument(help="DMA name, as in the DMA file")],
    start: Annotated[str, typer.Option("--from", help="First month YYYY-MM (or day YYYY-MM-DD), UTC")],
    end: Annotated[str, typer.Option("--to", help="Last month YYYY-MM, included (or day YYYY-MM-DD)")],
    store: StoreOption = None,
    dmas: Annotated[
        Path | None,
        typer.Option(
            "--dmas",
            help="DMA file (.toml/.geojson); default: L-Town's when the store's sensors are L-Town's",
        ),
    ] = None,
    network: Annotated[
        Path | None,
        typer.Option("--network", help="EPANET model: meter directions, tanks, mains lengths"),
    ] = None,
    billing: Annotated[
        Path | None,
        typer.Option(
            "--billing", help="Billing CSV: account, dma, period (YYYY-MM), billed_m3, metered"
        ),
    ] = None,
    night_use: Annotated[
        float, typer.Option(help="Household night use, L/property/h (when the DMA has no AMR)")
    ] = UK_HOUSEHOLD_NIGHT_USE_L_H,
    non_household: Annotated[float, typer.Option(help="Non-household night use, m³/h")] = 0.0,
    n1: Annotated[float, typer.Option(help="FAVAD leakage exponent N1 for the night-day factor")] = 1.0,
    scheme: Annotated[str, typer.Option(help="ILI banding scheme")] = "wbi_developing",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
    report: Annotated[Path | None, typer.Option("--report", help="Write an HTML report here")] = None,
    pdf: Annotated[
        Path | None, typer.Option("--pdf", help="Also print the report to PDF (Chromium)")
    ] = None,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Write the monthly rows as CSV")] = None,
) -> None:
    """Monthly and period water balance of a DMA from stored telemetry, with its night-flow leakage."""
    t0, t1 = parse_month_range(start, end)
    url = settings(store_url=store).store_url
    with open_store(url) as st:
        net = load_network(network) if network is not None else None
        dma_file = dmas
        if dma_file is None:
            dma_file, inp = _default_dmas(st)
            net = net or load_network(inp)
        zone = resolve_zone(name, load_dmas(dma_file, net), st.sensors(), net)
        options = BalanceOptions(
            night=NightFlowOptions(
                household_l_per_property_h=night_use, non_household_m3_h=non_household, n1=n1
            ),
            scheme=scheme,
        )
        bills = load_billing(billing) if billing is not None else None
        result = dma_balance(st, zone, t0, t1, billing=bills, options=options)
    out = dma_balance_report(result)
    if report is not None or pdf is not None:
        write_report(dma_html(out), report or (pdf or Path("report")).with_suffix(".html"), pdf)
    if csv_out is not None:
        csv_out.write_text(rows_to_csv(dma_rows(out)), encoding="utf-8")
    if as_json:
        typer.echo(json.dumps(out, indent=2))
        return
    _print_dma(out)


def _print_dma(out: dict[str, Any]) -> None:
    console = Console()
    console.print(f"[bold]DMA {out['dma']}[/]  inflow = {out['inflow_formula']}", highlight=False)
    for note in out["notes"]:
        console.print(f"note: {note}", highlight=False)
    table = Table(title="Water balance by month (m³)")
    for col in ("period", "coverage", "system input", "consumption", "real losses", "NRW %", "ILI"):
        table.add_column(col, justify="right")
    for m in [*out["months"], out["total"]]:
        used = m["billed_metered_m3"] if m["billed_metered_m3"] is not None else m["consumption_m3"]
        table.add_row(
            m["period"],
            f"{100 * m['coverage']:.1f} %",
            _fmt(m["inflow_m3"]),
            _fmt(used),
            _flagged(m, "real_losses", 0),
            _flagged(m, "nrw_pct", 1),
            _flagged(m, "ili", 2),
        )
    console.print(table)
    for n in out["total"]["notes"]:
        console.print(f"note: {n}", highlight=False)
    nf = out["nightflow"]
    if nf is not None:
        k = Table(title=f"Night flow ({nf['window']})")
        k.add_column("quantity")
        k.add_column("value", justify="right")
        for label, value in (
            ("minimum night flow (m³/h)", _fmt(nf["mnf_m3h"], 2)),
            ("legitimate night use (m³/h)", _fmt(nf["legitimate_night_use_m3h"], 2)),
            ("night leakage (m³/h)", _fmt(nf["night_leakage_m3h"], 2)),
            ("night-day factor (h)", _fmt(nf["ndf_h"], 2)),
            ("daily leakage (m³/d)", _fmt(nf["daily_leakage_m3d"], 1)),
            ("average zone pressure (m)", _fmt(nf["average_zone_pressure_m"], 1)),
            ("DMA ILI", _fmt(nf["ili"], 2)),
        ):
            k.add_row(label, value)
        for w in nf["what_ifs"]:
            k.add_row(
                f"what-if: −{w['reduce_by_m']:g} m, N1 {w['n1']:g} (m³/d)", _fmt(w["leakage_m3_d"], 1)
            )
        console.print(k)
    flagged = kpi_warning_lines([*out["months"], out["total"]])
    for w in flagged + out["warnings"] + (nf["warnings"] if nf else []):
        console.print(f"[bold yellow]warning:[/] {w}", highlight=False)


@app.command("report")
def report_cmd(
    audit: Annotated[Path, typer.Argument(help="Audit file (TOML)")],
    out: Annotated[Path, typer.Option("--out", help="HTML report to write")],
    pdf: Annotated[Path | None, typer.Option("--pdf", help="Also print it to PDF (Chromium)")] = None,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Write the components as CSV")] = None,
    scheme: Annotated[str, typer.Option(help="ILI banding scheme")] = "wbi_developing",
) -> None:
    """HTML (and PDF) report of an audit: indicators, IWA balance diagram, table with 95 % margins."""
    result = audit_report(run_audit(load_audit(audit), scheme))
    write_report(audit_html(result, f"Water balance: {audit.stem}"), out, pdf)
    if csv_out is not None:
        csv_out.write_text(rows_to_csv(audit_rows(result)), encoding="utf-8")
    typer.echo(f"wrote {out}" + (f" and {pdf}" if pdf else ""))


@app.command("template")
def template(
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to this file instead of standard output")
    ] = None,
) -> None:
    """A commented audit file to fill in: every key with its unit, margin, method and grade."""
    from tirta.balance.audit import audit_template

    text = audit_template()
    if out is None:
        typer.echo(text, nl=False)
        return
    if out.exists():
        raise InputError("file exists; remove it or choose another --out", file=out)
    out.write_text(text, encoding="utf-8")
    Console(stderr=True).print(f"wrote {out}; check it with: tirta balance compute {out}", markup=False)


@app.command("dmas")
def dmas_cmd(
    start: Annotated[str, typer.Option("--from", help="First month YYYY-MM (or day YYYY-MM-DD), UTC")],
    end: Annotated[str, typer.Option("--to", help="Last month YYYY-MM, included (or day YYYY-MM-DD)")],
    dmas: Annotated[Path, typer.Option("--dmas", help="DMA file (.toml/.geojson)")],
    store: StoreOption = None,
    network: Annotated[
        Path | None,
        typer.Option("--network", help="EPANET model: meter directions, tanks, mains lengths"),
    ] = None,
    billing: Annotated[Path | None, typer.Option("--billing", help="Billing CSV")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Local worker processes (PostgreSQL stores)")
    ] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler tcp://host:8786 (or $TIRTA_DASK_SCHEDULER)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """The balance of every DMA of the file, each DMA a task (in parallel on a PostgreSQL store)."""
    from tirta.balance.parallel import DmaTask, balance_all, dma_names
    from tirta.hydraulics.executors import DaskExecutor, make_executor

    t0, t1 = parse_month_range(start, end)
    url = settings(store_url=store).store_url
    if billing is not None and not billing.is_file():
        raise InputError("billing file not found", file=billing, field="--billing")
    names = dma_names(dmas, network)
    tasks = [
        DmaTask(
            url,
            n,
            str(dmas),
            str(network) if network else None,
            t0,
            t1,
            str(billing) if billing else None,
        )
        for n in names
    ]
    executor = make_executor(workers, scheduler)
    try:
        with Console(stderr=True).status(f"balancing {len(tasks)} DMAs"):
            reports = balance_all(tasks, executor)
    finally:
        if isinstance(executor, DaskExecutor):
            executor.close()
    if as_json:
        typer.echo(json.dumps(reports, indent=2, default=str))
        return
    table = Table(title=f"DMA balances {start} – {end}")
    for col in ("DMA", "system input (m³)", "real losses (m³)", "NRW %", "ILI", "warnings / error"):
        table.add_column(col, justify="right")
    for name, rep in reports.items():
        if "error" in rep:
            table.add_row(name, "", "", "", "", rep["error"])
            continue
        total = rep["total"]
        table.add_row(
            name,
            _fmt(total["inflow_m3"]),
            _fmt(total.get("real_losses")),
            _fmt(total.get("nrw_pct"), 1),
            _fmt(total.get("ili"), 2),
            "; ".join(rep.get("warnings", [])),
        )
    Console().print(table)
