"""``tirta waste …``: landfill gas (LandGEM) and power, tonnage KPIs and diversion, engine operations."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from tirta.cli.ingest import StoreOption
from tirta.config import settings
from tirta.errors import InputError
from tirta.telemetry.store import open_store
from tirta.waste import city_report, landfill_years, load_city, load_landfill, public_waste
from tirta.waste.kpis import tonnage_kpis
from tirta.waste.operations import operations_by_year, synthetic_engine_readings
from tirta.waste.tonnage import load_sites_file, load_tonnage

app = typer.Typer(
    help="Solid waste: tonnage and diversion, landfill gas (LandGEM) and power.", no_args_is_help=True
)


def _clean(value: Any) -> Any:
    """JSON-safe: NaN/inf become null, NumPy scalars plain numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def echo_json(data: Any) -> None:
    """Print one JSON document."""
    typer.echo(json.dumps(_clean(data), indent=1))


@app.command("landgem")
def landgem(
    input_file: Annotated[
        Path, typer.Argument(metavar="INPUT.toml", help="Landfill file (LandGEM inputs)")
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON array: an object per year")
    ] = False,
) -> None:
    """Yearly methane, landfill gas, CO2, NMOC, electric power and energy from opening to ≥ 30 years after closure."""
    lf = load_landfill(input_file)
    years = landfill_years(lf)
    if as_json:  # one object per year, as the command-line contract says (parameters: the table)
        echo_json(years.to_dict("records"))
        return
    table = Table(title=f"LandGEM: {lf.name} (k {lf.k:g}/yr, L0 {lf.l0_m3_per_t:g} m³/t)")
    for col in ("year", "waste in place t", "CH4 m³", "LFG m³", "power MW", "energy MWh"):
        table.add_column(col, justify="right")
    for r in years.itertuples():
        table.add_row(
            str(r.year),
            f"{r.waste_in_place_t:,.0f}",
            f"{r.methane_m3:,.0f}",
            f"{r.lfg_m3:,.0f}",
            f"{r.power_mw:,.2f}",
            f"{r.energy_mwh:,.0f}",
        )
    Console().print(table)


@app.command("kpis")
def kpis(
    tonnage: Annotated[
        Path, typer.Argument(metavar="TONNAGE.csv", help="Long CSV date,site,stream,tonnes")
    ],
    population: Annotated[
        float | None, typer.Option("--population", min=1, help="People served, for kg/capita/day")
    ] = None,
    sites: Annotated[
        Path | None, typer.Option("--sites", help="TOML with [[site]] tables; other sites are rejected")
    ] = None,
    quarantine: Annotated[
        bool,
        typer.Option("--quarantine", help="Set faulty rows aside with their reason instead of stopping"),
    ] = False,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            help="With --quarantine: also record the set-aside rows in this store's quarantine",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Totals per stream, t/day, kg/capita/day and diversion, recycling, landfill and sorting rates (%),
    for the whole period, per month and per year, city-wide and per site."""
    if store is not None and not quarantine:
        raise InputError("--store records quarantined rows: give --quarantine too", field="--store")
    known = load_sites_file(sites) if sites is not None else None
    data = load_tonnage(tonnage, known, strict=not quarantine)
    result = tonnage_kpis(data.records, population, known)
    result["accepted"] = len(data.records)
    result["quarantined"] = len(data.quarantine)
    result["reasons"] = data.reasons()
    if store is not None and len(data.quarantine):
        with open_store(settings(store_url=store).store_url) as st:
            no_readings = pd.DataFrame({"sensor": [], "time": [], "value": []})
            st.write(no_readings, source=data.source, quarantine=data.store_quarantine())
    if quarantine:
        result["quarantine"] = data.quarantine[["line", "reason", "field", "detail"]].to_dict("records")
    if as_json:
        echo_json(result)
        return
    console = Console()
    period = result["period"] or {}
    table = Table(title=f"Waste KPIs: {tonnage.name} ({period.get('from')} to {period.get('to')})")
    for col in ("month", "total t", "t/day", "diversion %", "recycling %", "composting %", "landfill %"):
        table.add_column(col, justify="right")
    for m in [*result["months"], {"period": "all", **result}]:
        table.add_row(
            m["period"] if isinstance(m["period"], str) else "all",
            _f(m["total_t"], 0),
            _f(m["t_per_day"], 1),
            _f(m["diversion_pct"], 1),
            _f(m["recycling_pct"], 1),
            _f(m["composting_pct"], 1),
            _f(m["landfill_pct"], 1),
        )
    console.print(table)
    if result["kg_per_capita_day"] is not None:
        console.print(f"collected {result['kg_per_capita_day']:.3f} kg per capita per day")
    if data.quarantine.shape[0]:
        console.print(f"{len(data.quarantine)} rows quarantined: {result['reasons']}")


def _f(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


@app.command("simulate-engines")
def simulate_engines(
    input_file: Annotated[
        Path, typer.Argument(metavar="INPUT.toml", help="Landfill file with [[engine]] tables")
    ],
    out: Annotated[Path, typer.Option("--out", help="Long CSV to write: sensor,time,value,unit")],
    start: Annotated[
        str, typer.Option("--from", help="First hour (UTC), e.g. 2024-01-01")
    ] = "2024-01-01",
    end: Annotated[str, typer.Option("--to", help="End, exclusive (UTC)")] = "2026-01-01",
    capture: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of modelled methane burnt")
    ] = 0.7,
    seed: Annotated[int, typer.Option(help="Random seed")] = 0,
) -> None:
    """Hourly engine telemetry (gas flow m³/h, methane %, kW) consistent with the model, for trying the
    operations view: load it with `tirta ingest file OUT --sensors INPUT.toml`."""
    lf = load_landfill(input_file)
    frame = synthetic_engine_readings(lf, start, end, capture=capture, seed=seed)
    frame.assign(time=frame["time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(out, index=False)
    typer.echo(f"wrote {len(frame):,} readings of {len(lf.engines)} engines to {out}")


@app.command("operations")
def operations(
    input_file: Annotated[
        Path, typer.Argument(metavar="INPUT.toml", help="Landfill file with [[engine]] tables")
    ],
    store: StoreOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Actual against modelled per year: collected methane and collection efficiency, energy and power."""
    lf = load_landfill(input_file)
    with open_store(settings(store_url=store).store_url) as st:
        years = operations_by_year(st, lf)
    if as_json:
        echo_json({"landfill": lf.name, "years": years})
        return
    table = Table(title=f"Gas to power: {lf.name}")
    for col in (
        "year",
        "coverage %",
        "CH4 collected m³",
        "collection eff. %",
        "MWh",
        "modelled MWh",
        "ratio",
    ):
        table.add_column(col, justify="right")
    for y in years:
        table.add_row(
            str(y["year"]),
            _f(100 * y["coverage"], 1),
            _f(y["collected_methane_m3"], 0),
            _f(None if y["collection_efficiency"] is None else 100 * y["collection_efficiency"], 1),
            _f(y["energy_mwh"], 0),
            _f(y["modelled_energy_mwh"], 0),
            _f(y["energy_ratio"], 2),
        )
    Console().print(table)


@app.command("city")
def city(
    waste_file: Annotated[
        Path, typer.Argument(metavar="WASTE.toml", help="Population, sites, tonnage, landfills")
    ],
    store: Annotated[
        str | None,
        typer.Option(
            "--store", help="Store with engine telemetry (none: model only)", show_default=False
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """What the waste page shows: tonnage KPIs city-wide and per site, each landfill's model and actuals,
    and the public figures."""
    config = load_city(waste_file)
    if store is not None:
        with open_store(settings(store_url=store).store_url) as st:
            report = city_report(config, st)
    else:
        report = city_report(config)
    report["public"] = public_waste(report)
    if as_json:
        echo_json(report)
        return
    console = Console()
    k = report["kpis"] or {}
    console.print(
        f"{report['name']}: {_f(k.get('t_per_day'), 0)} t/day, {_f(k.get('kg_per_capita_day'), 2)} kg/capita/day, "
        f"diversion {_f(k.get('diversion_pct'), 1)} %, landfilled {_f(k.get('landfill_pct'), 1)} %"
    )
    for lf in report["landfills"]:
        years = dict(zip(lf["years"]["year"], lf["years"]["power_mw"], strict=True))
        ops = {o["year"]: o for o in lf["operations"]}
        table = Table(title=f"{lf['name']}: modelled power and engine actuals")
        for col in ("year", "modelled MW", "actual MW", "collection eff. %"):
            table.add_column(col, justify="right")
        for year in sorted(ops) or list(years)[::10]:  # without telemetry: the model every 10 years
            o = ops.get(year, {})
            eff = o.get("collection_efficiency")
            table.add_row(
                str(year),
                _f(years.get(year), 2),
                _f(o.get("power_mw"), 2),
                _f(None if eff is None else 100 * eff, 1),
            )
        console.print(table)
