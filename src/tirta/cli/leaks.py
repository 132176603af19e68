"""``tirta leaks …``: detect and localise leaks in SCADA data; score results against ground truth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console

from tirta.errors import InputError
from tirta.leaks.evaluate import PipeDistances, read_results, score, write_results
from tirta.network import load_network
from tirta.telemetry.battledim import read_truth

app = typer.Typer(help="Leak detection, localisation and BattLeDIM scoring.", no_args_is_help=True)


def _read_leak_flows(path: Path) -> pd.DataFrame:
    """Leak flows as a time × pipe frame in m³/s, from a CSV in m³/h (``Timestamp`` first)."""
    try:
        raw = pd.read_csv(path, sep=None, engine="python")
    except (OSError, pd.errors.ParserError, ValueError) as exc:
        raise InputError(f"cannot read leak flows: {exc}", file=path) from None
    if raw.shape[1] < 2 or str(raw.columns[0]).strip().lower() not in ("timestamp", "time"):
        raise InputError("first column must be 'Timestamp'", file=path, line=1)
    times = pd.DatetimeIndex(pd.to_datetime(raw.iloc[:, 0], errors="coerce"))
    if times.isna().any():
        raise InputError("unparsable timestamp", file=path, line=int(times.isna().argmax()) + 2)
    frame = raw.iloc[:, 1:].apply(pd.to_numeric, errors="coerce") / 3600.0
    frame.index = times.tz_localize("UTC") if times.tz is None else times.tz_convert("UTC")
    return frame


@app.command("score")
def score_cmd(
    network: Annotated[Path, typer.Argument(help="EPANET .inp file of the network")],
    truth: Annotated[Path, typer.Argument(help="truth.csv: linkID, kind, start, peak, end, diameter_m")],
    results: Annotated[
        Path, typer.Argument(help="Results file: '# linkID, startTime' then one line each")
    ],
    leak_flows: Annotated[
        Path | None,
        typer.Option(
            "--leak-flows", help="CSV of leak flows (m³/h, one column per leak pipe) for the € score"
        ),
    ] = None,
) -> None:
    """Score detections with the BattLeDIM rules and the operational 300 m / 7-day rule; prints JSON."""
    net = load_network(network)
    dist = PipeDistances(net)
    leaks = read_truth(truth)
    for i, pipe in enumerate(leaks["linkID"].astype(str)):
        if pipe not in dist:
            raise InputError(f"unknown leak pipe '{pipe}'", file=truth, line=i + 2, field="linkID")
    detections = read_results(results, net)
    flows = _read_leak_flows(leak_flows) if leak_flows is not None else None
    typer.echo(json.dumps(score(leaks, detections, dist, leak_flows=flows), indent=2))


@app.command("detect")
def detect_cmd(
    network: Annotated[Path, typer.Argument(help="EPANET .inp file of the network")],
    scada: Annotated[Path, typer.Argument(help="SCADA folder (BattLeDIM layout) or .xlsx workbook")],
    out: Annotated[Path, typer.Option("--out", help="Results file to write (BattLeDIM template)")],
    train: Annotated[
        Path | None,
        typer.Option(
            "--train", help="Earlier period for calibration (leak-free unless it has truth.csv)"
        ),
    ] = None,
    sensors: Annotated[
        Path | None, typer.Option("--sensors", help="sensors.json (pressure/flow/level sensors, amrs)")
    ] = None,
) -> None:
    """Detect and localise leaks; writes one 'linkID, startTime' line per leak found."""
    from tirta.leaks.localize import ProcessExecutor
    from tirta.leaks.pipeline import run_files

    console = Console(stderr=True, soft_wrap=True)
    net = load_network(network)
    found = run_files(net, scada, train=train, sensors=sensors, executor=ProcessExecutor())
    write_results(out, [f.detection for f in found])
    for f in found:
        console.print(
            f"{f.detection.pipe}, {f.detection.time:%Y-%m-%d %H:%M}  "
            f"{f.alarm.size_lps:.2f} L/s  confidence {f.alarm.confidence:.2f}  "
            f"radius {f.radius_m:.0f} m  ({f.alarm.method})",
            markup=False,
        )
    console.print(f"{len(found)} leak(s) written to {out}", markup=False)
