"""``tirta simulate``: generate realistic sensor data with hidden leaks, in the BattLeDIM layout."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from tirta.hydraulics.simulate import SimulationConfig, SimulationResult, parse_leak_count, simulate
from tirta.network import load_network, load_sensors
from tirta.network.model import Network
from tirta.network.sensors import sensors_beside


def run_with_progress(
    net: Network, cfg: SimulationConfig, out: Path, sensors_file: Path | None, console: Console
) -> SimulationResult:
    """Run the generator with a Rich progress bar over simulated report steps."""
    sensors = load_sensors(sensors_file, net) if sensors_file else None
    columns = (
        TextColumn("[bold]simulating[/]"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} steps"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("sim", total=None)

        def progress(done: int, total: int) -> None:
            if done % 96 == 0 or done == total:
                bar.update(task, completed=done, total=total)

        return simulate(net, cfg, sensors=sensors, out=out, progress=progress)


def run_batch(
    net: Network,
    cfg: SimulationConfig,
    scenarios: int,
    out: Path,
    sensors_file: Path | None,
    workers: int | None,
    scheduler: str | None,
    console: Console,
) -> None:
    """N scenarios on the executor asked for, with a progress bar over finished scenarios."""
    from tirta.hydraulics.batch import simulate_batch
    from tirta.hydraulics.executors import DaskExecutor, make_executor

    executor = make_executor(workers, scheduler)
    columns = (
        TextColumn("[bold]scenarios[/]"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
    )
    try:
        with Progress(*columns, TimeElapsedColumn(), console=console) as bar:
            task = bar.add_task("batch", total=scenarios)
            dirs = simulate_batch(
                net,
                cfg,
                scenarios,
                out,
                sensors_file=sensors_file,
                executor=executor,
                progress=lambda done, _: bar.update(task, completed=done),
            )
    finally:
        if isinstance(executor, DaskExecutor):
            executor.close()
    Console().print(f"{len(dirs)} scenarios written to {out} ({dirs[0].name} … {dirs[-1].name})")


def summary_table(result: SimulationResult, title: str) -> Table:
    """Readings per kind and the hidden leaks, as a Rich table."""
    table = Table(title=title)
    table.add_column("kind")
    table.add_column("sensors", justify="right")
    table.add_column("readings", justify="right")
    for kind, frame in result.scada.items():
        table.add_row(kind, str(frame.shape[1]), f"{int(frame.notna().to_numpy().sum()):,}")
    return table


def simulate_cmd(
    inp: Annotated[str, typer.Argument(help="EPANET .inp file, or 'l-town' for the built-in one")],
    out: Annotated[Path, typer.Option("--out", help="Output folder (BattLeDIM layout)")],
    days: Annotated[float, typer.Option(help="Days to simulate (with leaks)")] = 7.0,
    leaks: Annotated[str, typer.Option(help="Number of hidden leaks: K or MIN-MAX")] = "1",
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same data")] = 0,
    sensors: Annotated[
        Path | None, typer.Option("--sensors", help="Sensor file (.json/.toml/.csv)")
    ] = None,
    train_days: Annotated[
        float, typer.Option(help="Leak-free days before, written to OUT/train (eval to OUT/eval)")
    ] = 0.0,
    faults: Annotated[int, typer.Option(help="Sensor faults to inject (stuck/spike/drift/gap)")] = 0,
    start: Annotated[str, typer.Option(help="UTC start date")] = "2021-01-01",
    required_pressure: Annotated[
        float, typer.Option(help="PDA required pressure, m (full demand above it)")
    ] = 25.0,
    scenarios: Annotated[
        int | None,
        typer.Option(help="Simulate N scenarios into OUT/scenario-000 …, scenario i with seed + i"),
    ] = None,
    workers: Annotated[int | None, typer.Option(help="With --scenarios: local worker processes")] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            help="With --scenarios: a Dask scheduler, tcp://host:8786 (or $TIRTA_DASK_SCHEDULER)"
        ),
    ] = None,
    customer_leaks: Annotated[
        int,
        typer.Option(help="Leaks behind smart customer meters (5-50 L/h), truth in customer_truth.csv"),
    ] = 0,
    meter_faults: Annotated[
        int, typer.Option(help="Stopped, under-registering, reversed or tampered customer meters")
    ] = 0,
    customers: Annotated[
        int, typer.Option(help="Smart-metered households (Customers.csv); default 200 with the above")
    ] = 0,
) -> None:
    """Simulate sensor data with hidden leaks; writes CSVs, truth.csv, faults.csv, sensors.json."""
    from tirta.hydraulics.scenarios import PDA

    console = Console(stderr=True)
    net = load_network(inp)
    if sensors is None:
        sensors = sensors_beside(net.path)
    cfg = SimulationConfig(
        days=days,
        train_days=train_days,
        leaks=parse_leak_count(leaks),
        seed=seed,
        start=start,
        faults=faults,
        pda=PDA(required_pressure_m=required_pressure),
        customer_leaks=customer_leaks,
        meter_faults=meter_faults,
        customers=customers,
    )
    if scenarios is not None:
        run_batch(net, cfg, scenarios, out, sensors, workers, scheduler, console)
        return
    if workers is not None or scheduler is not None:
        from tirta.errors import InputError

        raise InputError(
            "--workers and --scheduler fan out a batch: give --scenarios N", field="scenarios"
        )
    result = run_with_progress(net, cfg, out, sensors, console)
    out_console = Console()
    out_console.print(summary_table(result, f"{net.path.name}: {days:g} days, seed {seed}"))
    out_console.print(
        f"{len(result.truth)} hidden leak(s), {len(result.faults)} sensor fault(s); truth in {out}"
    )
    if result.customers is not None:
        out_console.print(
            f"{len(result.customers.customers)} smart-metered customers, "
            f"{len(result.customers.truth)} planted customer leak(s)/meter fault(s)"
        )
    out_console.print(f"written to {out}")
    for note in result.warnings:
        console.print(f"warning: {note}", markup=False, highlight=False, soft_wrap=True)
