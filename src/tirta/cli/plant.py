"""``tirta plant …``: wastewater treatment plants: lab compliance and the BSM1 process model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from tirta.wastewater import DEFAULT_STANDARD, judge, load_effluent_standard, load_lab
from tirta.wastewater.bsm1 import DEFAULT_STEP_MIN, Bsm1Result, effluent_compliance, run_bsm1

app = typer.Typer(
    help="Wastewater treatment plants: compliance, KPIs, BSM1 what-ifs.", no_args_is_help=True
)

StandardOption = Annotated[
    str,
    typer.Option("--standard", help="id-p68-2016 (Indonesia, default), eu-uwwtd, or a permit TOML file"),
]


@app.command("compliance")
def compliance(
    lab: Annotated[Path, typer.Argument(help="Lab CSV: sample,time,point,parameter,value,unit")],
    standard: StandardOption = DEFAULT_STANDARD,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Judge the effluent samples of a lab file against an effluent standard."""
    std = load_effluent_standard(standard)
    result = judge(load_lab(lab), std)
    answer = result.to_dict()
    if as_json:
        typer.echo(json.dumps(answer, indent=2))
        return
    console = Console()
    pct = answer["compliance_pct"]
    console.print(
        f"{std.name}: {answer['compliant_samples']}/{answer['samples']} effluent samples comply"
        + ("" if pct is None else f" ({pct:.1f} %)")
    )
    if answer["exceedances"]:
        table = Table(title="Exceedances")
        for col in ("sample", "time", "parameter", "value", "limit"):
            table.add_column(col, justify="right" if col in ("value", "limit") else "left")
        for e in answer["exceedances"]:
            table.add_row(e["sample"], e["time"], e["parameter"], f"{e['value']:g}", f"{e['limit']:g}")
        console.print(table)


def _run_with_progress(
    console: Console,
    influent: str,
    days: float | None,
    step_min: float,
    flow_pct: float,
    load_pct: float,
) -> Bsm1Result:
    columns = (
        TextColumn("[bold]BSM1[/]"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} steps"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("bsm1", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return run_bsm1(
            influent,
            days=days,
            step_min=step_min,
            flow_pct=flow_pct,
            load_pct=load_pct,
            progress=progress,
        )


@app.command("bsm1")
def bsm1(
    days: Annotated[
        float | None,
        typer.Option(
            help="Days to simulate (default 100 for constant influent, the whole weather file)"
        ),
    ] = None,
    influent: Annotated[
        str, typer.Option(help="constant (steady state), dry, rain, or a CSV file (time + 21 states)")
    ] = "constant",
    step_min: Annotated[
        float, typer.Option("--step-min", help="Coupling step of the plant units, minutes")
    ] = (DEFAULT_STEP_MIN),
    flow_pct: Annotated[float, typer.Option("--flow-pct", help="What-if: influent flow +X %")] = 0.0,
    load_pct: Annotated[float, typer.Option("--load-pct", help="What-if: influent load +X %")] = 0.0,
    standard: StandardOption = DEFAULT_STANDARD,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Open-loop IWA BSM1 (bsm2-python): effluent quality, EQI, aeration and pumping energy."""
    std = load_effluent_standard(standard)
    err = Console(stderr=True)
    result = _run_with_progress(err, influent, days, step_min, flow_pct, load_pct)
    answer = {**result.to_dict(), "flow_pct": flow_pct, "load_pct": load_pct}
    answer["compliance"] = effluent_compliance(result, std)
    if as_json:
        typer.echo(json.dumps(answer, indent=2))
        return
    table = Table(title=f"BSM1 open loop, {result.influent} influent, {result.days:g} d")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    for key in ("S_NH", "S_NO", "TSS", "COD", "BOD5", "N_tot"):
        table.add_row(f"{key} (g/m³)", f"{answer[key]:.3f}")
    table.add_row("EQI (kg PU/d)", f"{result.eqi_kg_d:,.1f}")
    table.add_row("aeration energy (kWh/d)", f"{result.aeration_energy_kwh_d:,.1f}")
    table.add_row("pumping energy (kWh/d)", f"{result.pumping_energy_kwh_d:,.1f}")
    table.add_row(f"complies with {std.id}", "yes" if answer["compliance"]["complies"] else "no")
    Console().print(table)


StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="duckdb:///path/file.duckdb or postgresql://user@host:port/db "
        "(default: $TIRTA_STORE_URL, else ./tirta.duckdb)",
        show_default=False,
    ),
]
PlantsArg = Annotated[Path, typer.Argument(help="Plant registry (TOML, [[plant]] tables)")]
PlantIdArg = Annotated[str, typer.Argument(help="Plant id in the registry")]
LabOption = Annotated[
    Path | None,
    typer.Option(
        "--lab", help="Lab CSV (sample,time,point,parameter,value,unit); default: the registry's"
    ),
]
FromOption = Annotated[str, typer.Option("--from", help="Start (UTC date or time)")]
ToOption = Annotated[str, typer.Option("--to", help="End, exclusive (UTC date or time)")]


def _summary(
    plants: Path,
    plant_id: str,
    lab: Path | None,
    store: str | None,
    start: str,
    end: str,
    standard: str | None,
) -> dict[str, object]:
    from tirta.config import settings
    from tirta.errors import InputError
    from tirta.telemetry.schema import utc_time
    from tirta.telemetry.store import open_store
    from tirta.wastewater.plants import load_plants
    from tirta.wastewater.summary import empty_lab, plant_summary, plant_telemetry

    registry = load_plants(plants)
    if plant_id not in registry:
        raise InputError(
            f"unknown plant '{plant_id}'; expected one of {', '.join(registry)}", file=plants
        )
    plant = registry[plant_id]
    lab = lab or plant.lab_file
    frame = load_lab(lab) if lab is not None else empty_lab()
    t0, t1 = utc_time(start, "--from"), utc_time(end, "--to")
    frame = frame[(frame["time"] >= t0) & (frame["time"] < t1)]
    with open_store(settings(store_url=store).store_url) as st:
        tele = plant_telemetry(st, plant, start, end)
    return plant_summary(plant, tele, frame, standard)


@app.command("kpis")
def kpis(
    plants: PlantsArg,
    plant_id: PlantIdArg,
    start: FromOption,
    end: ToOption,
    lab: LabOption = None,
    store: StoreOption = None,
    standard: Annotated[str | None, typer.Option(help="Override the plant's permit standard")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Monthly KPIs of a plant from its telemetry in the store and its lab results."""
    summary = _summary(plants, plant_id, lab, store, start, end, standard)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    from tirta.reports.plant import plant_kpi_cards

    table = Table(title=f"{plant_id}: {start} – {end}")
    table.add_column("KPI")
    table.add_column("total", justify="right")
    for _, label, value in plant_kpi_cards(summary["total"]):  # type: ignore[arg-type]
        table.add_row(label, value)
    Console().print(table)


@app.command("report")
def report(
    plants: PlantsArg,
    plant_id: PlantIdArg,
    month: Annotated[str, typer.Option(help="Month of the report, YYYY-MM")],
    out: Annotated[Path, typer.Option("--out", help="HTML file to write")],
    lab: LabOption = None,
    store: StoreOption = None,
    pdf: Annotated[
        Path | None, typer.Option("--pdf", help="Also print to PDF (headless Chromium)")
    ] = None,
) -> None:
    """Monthly plant report (HTML, optionally PDF): KPIs, compliance, the year so far by month."""
    import pandas as pd

    from tirta.errors import InputError
    from tirta.reports import write_report
    from tirta.reports.plant import plant_html

    try:
        first = pd.Period(month, freq="M")
    except ValueError:
        raise InputError(f"'{month}' is not a month (YYYY-MM)", field="--month") from None
    start = (first - 11).start_time.strftime("%Y-%m-%d")
    end = (first + 1).start_time.strftime("%Y-%m-%d")
    summary = _summary(plants, plant_id, lab, store, start, end, None)
    path = write_report(plant_html(summary, str(first)), out, pdf)
    Console(stderr=True).print(f"wrote {path}" + (f" and {pdf}" if pdf else ""))


@app.command("events")
def events(
    plants: PlantsArg,
    plant_id: PlantIdArg,
    lab: LabOption = None,
    store: StoreOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Judge the plant's lab file against its standard, open an event per new breach, list its breaches.

    Breach events follow the leak events' lifecycle: move them with ``tirta leaks ack ID --who NAME`` etc.
    """
    from tirta.config import settings
    from tirta.errors import InputError
    from tirta.telemetry.store import open_store
    from tirta.wastewater.events import breach_events, open_breach_events
    from tirta.wastewater.plants import load_plants

    registry = load_plants(plants)
    if plant_id not in registry:
        raise InputError(
            f"unknown plant '{plant_id}'; expected one of {', '.join(registry)}", file=plants
        )
    plant = registry[plant_id]
    path = lab or plant.lab_file
    if path is None:
        raise InputError(f"plant {plant_id} has no lab file; give --lab", field="--lab")
    result = judge(load_lab(path), load_effluent_standard(plant.standard))
    with open_store(settings(store_url=store).store_url) as st:
        opened = open_breach_events(st, plant_id, result)
        items = [b.to_dict() for b in breach_events(st, plant_id)]
    if as_json:
        typer.echo(json.dumps({"plant": plant_id, "opened": opened, "events": items}, indent=2))
        return
    table = Table(title=f"{plant_id}: effluent breach events ({len(opened)} new)")
    for col in ("id", "status", "sample", "parameter", "value", "limit"):
        table.add_column(col)
    for b in items:
        table.add_row(*(str(b[c]) for c in ("id", "status", "sample", "parameter", "value", "limit")))
    Console().print(table)
