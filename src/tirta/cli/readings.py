"""``tirta readings …``: read stored readings back, raw or resampled, in SI units."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from tirta.cli.ingest import StoreOption
from tirta.config import settings
from tirta.errors import InputError
from tirta.network.sensors import Sensor
from tirta.telemetry import quality
from tirta.telemetry.quality import empty_flags
from tirta.telemetry.schema import si_column, time_range, utc_time
from tirta.telemetry.store import Store, open_store
from tirta.telemetry.store.postgres import PostgresStore
from tirta.units import DISPLAY_ENV, display_units, from_si, unit_tag

app = typer.Typer(help="Query stored readings.", no_args_is_help=True)
FORMATS = ("csv", "json", "parquet", "xlsx")


@app.command("query")
def query(
    sensors: Annotated[str, typer.Option("--sensors", help="Sensor ids, comma-separated")],
    start: Annotated[str, typer.Option("--from", help="First time (UTC unless an offset is given)")],
    end: Annotated[str, typer.Option("--to", help="End time, exclusive")],
    every: Annotated[str | None, typer.Option("--every", help="Resample: 5min, 1h or 1d")] = None,
    agg: Annotated[str, typer.Option("--agg", help="With --every: mean, min, max or count")] = "mean",
    store: StoreOption = None,
    fmt: Annotated[
        str, typer.Option("--format", help="csv or json (printed), parquet or xlsx (need --out)")
    ] = "csv",
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to this file instead of standard output")
    ] = None,
    units: Annotated[
        str | None,
        typer.Option(
            "--units",
            help="Display units: si, metric (L/s), us (psi, gpm, ft) and/or quantity=unit items, "
            "e.g. 'metric,flow=MLD' (default: $TIRTA_DISPLAY_UNITS, else si)",
            show_default=False,
        ),
    ] = None,
    clean: Annotated[
        bool, typer.Option("--clean", help="Leave out readings inside stored quality flags")
    ] = False,
) -> None:
    """A wide table: time first, one column per sensor named with its unit (n1_pressure_m, p227_flow_lps)."""
    ids = [s.strip() for s in sensors.split(",") if s.strip()]
    if not ids:
        raise InputError("give at least one sensor id", field="--sensors")
    if fmt not in FORMATS:
        raise InputError(f"unknown format '{fmt}'; expected {', '.join(FORMATS)}", field="--format")
    if fmt in ("parquet", "xlsx") and out is None:
        raise InputError(f"{fmt} is a binary file: give --out FILE", field="--out")
    shown = display_units(units if units is not None else os.environ.get(DISPLAY_ENV))
    time_range(start, end)
    with open_store(settings(store_url=store).store_url) as st:
        registry = st.sensors()
        unknown = [s for s in ids if s not in registry]
        if unknown:
            raise InputError(f"unknown sensor '{unknown[0]}'", field="--sensors")
        wide = st.read(ids, start, end, every=every, agg=agg, clean=clean)
    write_wide(in_display_units(wide, [registry[s] for s in ids], shown), fmt, out)


def in_display_units(wide: pd.DataFrame, chosen: list[Sensor], shown: dict[str, str]) -> pd.DataFrame:
    """SI columns converted to the display units, each named ``<sensor>_<quantity>_<unit tag>``."""
    out = pd.DataFrame(index=wide.index)
    for sensor, col in zip(chosen, wide.columns, strict=True):
        quantity = sensor.quantity
        unit = shown.get(quantity)
        if unit is None:
            out[si_column(sensor)] = wide[col]
            continue
        out[f"{sensor.id}_{quantity}_{unit_tag(unit)}"] = from_si(
            wide[col].to_numpy(dtype=float), unit, quantity
        )
    return out


def write_wide(wide: pd.DataFrame, fmt: str, out: Path | None) -> None:
    """CSV/JSON with ISO UTC times (to stdout or ``out``); Parquet keeps UTC times, Excel naive UTC."""
    if fmt == "parquet":
        assert out is not None
        wide.rename_axis("time").reset_index().to_parquet(out, index=False)
    elif fmt == "xlsx":
        assert out is not None
        frame = wide.copy()
        frame.index = frame.index.tz_convert("UTC").tz_localize(None).rename("time_utc")
        frame.reset_index().to_excel(out, index=False, sheet_name="readings")
    else:
        text = wide.copy()
        text.index = text.index.strftime("%Y-%m-%dT%H:%M:%SZ").rename("time")
        body = (
            text.reset_index().to_json(orient="records")
            if fmt == "json"
            else text.to_csv(lineterminator="\n")
        )
        if out is None:
            sys.stdout.write(body if fmt == "csv" else body + "\n")
        else:
            out.write_text(body, encoding="utf-8")
    if out is not None:
        typer.echo(f"wrote {out} ({len(wide)} rows, {wide.shape[1]} sensors)", err=True)


@app.command("flags")
def flags(
    store: StoreOption = None,
    sensors: Annotated[str | None, typer.Option("--sensors", help="Sensor ids, comma-separated")] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="First time (UTC unless an offset)")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="End time, exclusive")] = None,
    detect: Annotated[
        bool, typer.Option("--detect", help="Compute flags over --from/--to and store them first")
    ] = False,
    train_days: Annotated[
        float, typer.Option("--train-days", help="With --detect: days before --from to fit drift on")
    ] = 7.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array")] = False,
) -> None:
    """Data-quality flags (stuck, spike, drift, gap) stored for the sensors and time range."""
    ids = None if sensors is None else [s.strip() for s in sensors.split(",") if s.strip()]
    if start is not None and end is not None:
        time_range(start, end)
    with open_store(settings(store_url=store).store_url) as st:
        registry = st.sensors()
        unknown = [s for s in ids or [] if s not in registry]
        if unknown:
            raise InputError(f"unknown sensor '{unknown[0]}'", field="--sensors")
        if detect:
            if start is None or end is None:
                raise InputError("--detect needs --from and --to", field="--detect")
            chosen = ids if ids is not None else [s.id for s in registry]
            found = detect_flags(st, chosen, start, end, train_days=train_days)
            st.add_flags(found)
        table = st.flags(ids, start, end)
    if as_json:
        out = table.assign(
            start=table["start"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
            end=table["end"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        typer.echo(out.to_json(orient="records"))
        return
    for row in table.itertuples(index=False):
        typer.echo(
            f"{row.sensor}\t{row.kind}\t{row.start:%Y-%m-%d %H:%M}\t{row.end:%Y-%m-%d %H:%M}\t{row.detail}"
        )
    typer.echo(f"{len(table)} flags", err=True)


def detect_flags(
    st: Store, sensors: list[str], start: str, end: str, *, train_days: float
) -> pd.DataFrame:
    """Flags over ``start <= time < end`` per sensor kind; drift is fitted on the ``train_days`` before.
    The network's flow meters and tank levels (all registered, not only ``sensors``) are the context
    that tells pump and valve switching and tank reversals from spikes."""
    registry = st.sensors()
    t0 = pd.Timestamp(start)
    t0 = t0.tz_localize("UTC") if t0.tzinfo is None else t0.tz_convert("UTC")
    found = [empty_flags()]
    by_kind: dict[str, list[str]] = {}
    for sid in sensors:
        by_kind.setdefault(registry[sid].kind, []).append(sid)
    operating = [s.id for s in registry if s.kind in ("flow", "level")]
    context = st.read(operating, start, end) if operating else None
    for ids in by_kind.values():
        wide = st.read(ids, start, end)
        if wide.empty:
            continue
        train = st.read(ids, t0 - pd.Timedelta(days=train_days), t0)
        others = None
        if context is not None:
            others = context.drop(columns=[c for c in ids if c in context.columns])
        found.append(quality.detect(wide, train=train if len(train) >= 12 else None, context=others))
    return pd.concat(found, ignore_index=True)


@app.command("compact")
def compact(
    store: StoreOption = None,
    keep_days: Annotated[
        float,
        typer.Option("--keep-days", help="Whole days before the latest reading's day left as rows"),
    ] = 2.0,
    before: Annotated[
        str | None, typer.Option("--before", help="Pack the days before this time instead")
    ] = None,
) -> None:
    """Pack live rows of whole days into per-sensor-day blocks (PostgreSQL; `tirta serve` does it
    nightly): year-long queries then read only the sensors asked for."""
    with open_store(settings(store_url=store).store_url) as st:
        if not isinstance(st, PostgresStore):
            raise InputError(
                f"{st.display_url} is not a PostgreSQL store; DuckDB stores readings by column "
                "already and needs no compaction",
                field="store",
            )
        if before is None:
            span = st.span()
            end = span[1] if span else pd.Timestamp.now(tz="UTC")
            cut = end.normalize() - pd.Timedelta(days=keep_days)
        else:
            cut = utc_time(before, "before")
        moved = st.compact(cut)
    typer.echo(f"{moved} readings packed into blocks (days before {cut.floor('1D'):%Y-%m-%d})")


@app.command("prune")
def prune(
    keep_days: Annotated[float, typer.Option("--keep-days", help="Days of raw readings to keep")],
    store: StoreOption = None,
    now: Annotated[
        str | None, typer.Option("--now", help="Count the days back from this time (default: now)")
    ] = None,
) -> None:
    """Roll up, then delete raw readings older than --keep-days (cut at midnight UTC); rollups stay."""
    with open_store(settings(store_url=store).store_url) as st:
        deleted = st.prune(keep_days, now=now)
        cut = st.pruned_before()
    when = "the start" if cut is None else f"{cut:%Y-%m-%d %H:%M}Z"
    typer.echo(f"{deleted} raw readings deleted; raw readings kept from {when}")
