"""``tirta demo``: build the demo city, then serve it while its telemetry is replayed (``make demo``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tirta.demo import DemoCity, build_demo_city


def demo(
    out: Annotated[Path, typer.Option(help="Where the demo city is written")] = Path("demo-output"),
    days: Annotated[float, typer.Option(help="Days of telemetry")] = 28.0,
    leaks: Annotated[int, typer.Option(help="Hidden leaks")] = 3,
    seed: Annotated[int, typer.Option(help="Random seed")] = 42,
    store: Annotated[bool, typer.Option(help="Load the telemetry into OUT/tirta.duckdb")] = True,
    calibration: Annotated[
        float, typer.Option(help="Leak-free days at the start (at most a third of --days)")
    ] = 7.0,
    rebuild: Annotated[
        bool, typer.Option(help="Simulate again even when OUT holds a build of the same parameters")
    ] = False,
    serve: Annotated[
        bool, typer.Option(help="Serve the city and replay its telemetry live (--no-serve: build only)")
    ] = True,
    port: Annotated[
        int, typer.Option(help="Port on 127.0.0.1 (a free one when taken)", min=1, max=65535)
    ] = 8000,
    speed: Annotated[
        float,
        typer.Option(help="Replay speed: simulated seconds per second (2880: a day in 30 s)", min=1.0),
    ] = 2880.0,
    detect_every: Annotated[
        str, typer.Option("--detect-every", help="Leak detection period (wall time) while serving")
    ] = "10s",
    for_s: Annotated[
        float | None,
        typer.Option(
            "--for", help="Stop serving after this many seconds (default: until Ctrl-C)", min=0.1
        ),
    ] = None,
) -> None:
    """Build the L-Town demo city, simulate its telemetry with hidden leaks, print a summary; then
    serve it on 127.0.0.1 and replay the telemetry in accelerated time until Ctrl-C."""
    console = Console()
    with Progress(
        TextColumn("[bold]building the L-Town demo city[/]"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("sim", total=None)

        def progress(done: int, total: int) -> None:
            if done % 288 == 0 or done == total:
                bar.update(task, completed=done, total=total)

        city = build_demo_city(
            out, days=days, leaks=leaks, seed=seed, store=store, calibration=calibration,
            reuse=not rebuild, progress=progress,
        )  # fmt: skip
    _summary(console, city, days)
    if serve:
        from tirta.cli.demo_serve import serve_demo

        serve_demo(console, city, port=port, speed=speed, detect_every=detect_every, for_s=for_s)


def _summary(console: Console, city: DemoCity, days: float) -> None:
    """What the demo built and the next commands to try."""
    net, result = city.network, city.result
    counts = net.counts()
    console.print(
        f"[bold]Demo city:[/] L-Town, {counts['junctions']} junctions, {counts['pipes']} pipes "
        f"({net.mains_length_km:.1f} km of mains), {counts['tanks']} tank, "
        f"{counts['reservoirs']} reservoirs, {counts['pumps']} pump, {counts['valves']} valves"
    )
    dmas = Table(title="DMAs")
    for col in ("DMA", "nodes", "mains km", "connections", "inlet meters"):
        dmas.add_column(col)
    for d in city.dmas:
        dmas.add_row(
            d.name,
            str(len(d.nodes)),
            f"{d.mains_length_km or 0:.1f}",
            str(d.connections),
            ", ".join(d.inlets),
        )
    console.print(dmas)
    sensors = Table(title=f"Telemetry: {days:g} days at 5-minute steps")
    for col in ("kind", "sensors", "readings written"):
        sensors.add_column(col)
    for kind, frame in result.scada.items():
        sensors.add_row(kind, str(frame.shape[1]), f"{int(frame.notna().to_numpy().sum()):,}")
    sensors.add_row(
        "[bold]total[/]",
        str(sum(f.shape[1] for _, f in result.scada.items())),
        f"[bold]{result.n_readings:,}[/]",
    )
    console.print(sensors)
    console.print(
        f"{len(result.truth)} hidden leaks and {len(result.faults)} sensor faults "
        f"(answers in {city.telemetry_dir / 'truth.csv'} and faults.csv: don't peek)."
    )
    if city.calibration is not None:
        t0, t1 = city.calibration
        console.print(
            f"Leak-free calibration window: {t0:%Y-%m-%d %H:%M} – {t1:%Y-%m-%d %H:%M} UTC"
            + (" (reused the earlier build of the same parameters)" if city.reused else "")
        )
    console.print(f"Model, DMAs, sensors: {city.city_dir}/")
    console.print(f"Telemetry (BattLeDIM layout): {city.telemetry_dir}/")
    if city.billing:
        console.print(f"Billing (one metered account per demand node and month): {city.billing}")
    if city.ingested is not None:
        got = city.ingested
        console.print(
            f"Store: {city.store_url} ({got.accepted:,} readings accepted, {got.duplicate:,} duplicate, "
            f"{got.quarantined:,} quarantined)",
            markup=False,
            soft_wrap=True,  # the store URL stays whole, to copy
        )
    first = result.scada.index[0]
    console.print("Next:")
    console.print(f"  tirta network info {city.city_dir / 'L-TOWN.inp'}", markup=False)
    if city.store_url and city.billing:
        console.print(
            f"  tirta balance dma A --store {city.store_url} --billing {city.billing} "
            f"--from {first:%Y-%m} --to {result.scada.index[-1]:%Y-%m}",
            markup=False,
        )
    if city.store_url:
        day = pd.Timedelta(days=1)
        console.print(
            f"  tirta readings query --store {city.store_url} --sensors p227,p235,n1 "
            f"--from {first:%Y-%m-%d} --to {first + day:%Y-%m-%d} --every 1h --format csv",
            markup=False,
        )
