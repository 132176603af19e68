"""``tirta leaks …``: detect and localise leaks in SCADA data or stored telemetry, follow leak events,
score results against ground truth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console

from tirta.cli.ingest import StoreOption
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


# --- live pipeline and events ---------------------------------------------------------------------
EventId = Annotated[int, typer.Argument(help="Event id (see 'tirta leaks events')")]
Who = Annotated[str, typer.Option("--who", help="Who takes this step (name or crew)")]
Note = Annotated[str | None, typer.Option("--note", help="Why, what was found or done")]
At = Annotated[
    str | None,
    typer.Option("--at", help="When it happened (UTC unless an offset is given); default now"),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")]


def _store_url(store: str | None) -> str:
    from tirta.config import settings

    return settings(store_url=store).store_url


@app.command("run")
def run_cmd(
    network: Annotated[Path, typer.Argument(help="EPANET .inp file of the network")],
    train_from: Annotated[str, typer.Option("--train-from", help="Start of the leak-free calibration")],
    train_to: Annotated[str, typer.Option("--train-to", help="End of the calibration (exclusive)")],
    to: Annotated[
        str | None, typer.Option("--to", help="End of the watched window (exclusive); default now")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Start of the watched window; default --train-to")
    ] = None,
    dmas: Annotated[
        Path | None, typer.Option("--dmas", help="DMA file (.toml/.geojson) to name each event's DMA")
    ] = None,
    store: StoreOption = None,
) -> None:
    """Run the leak pipeline on stored telemetry; open or update events, propose closing repaired ones."""
    from tirta.leaks.live import run_live
    from tirta.leaks.localize import ProcessExecutor
    from tirta.network import load_dmas
    from tirta.telemetry.store import open_store

    net = load_network(network)
    areas = load_dmas(dmas, net) if dmas is not None else None
    with open_store(_store_url(store)) as st:
        res = run_live(
            st, net, train=(train_from, train_to), dmas=areas, now=to, since=since,
            executor=ProcessExecutor(),
        )  # fmt: skip
    typer.echo(
        f"window {res.start:%Y-%m-%d %H:%M} – {res.end:%Y-%m-%d %H:%M} UTC: {len(res.found)} leak(s) "
        f"found; opened {_ids(res.opened)}, updated {_ids(res.updated)}, unchanged "
        f"{_ids(res.unchanged)}, already dealt with {_ids(res.known)}; close proposed {_ids(res.proposed)}"
    )


def _ids(ids: list[int]) -> str:
    return ",".join(map(str, ids)) if ids else "none"


@app.command("events")
def events_cmd(
    status: Annotated[
        str | None, typer.Option("--status", help="Only events with this status (e.g. open)")
    ] = None,
    store: StoreOption = None,
    as_json: JsonFlag = False,
) -> None:
    """List leak events, newest first, with the water lost so far."""
    from tirta.leaks.events import list_events
    from tirta.telemetry.store import open_store

    if status is not None:
        status = status.replace("-", "_")
    with open_store(_store_url(store)) as st:
        events = list_events(st, status)
        now = st.data_now()  # water lost to the latest reading
    if as_json:
        rows = [e.to_dict(now) for e in events]
        for row in rows:
            row.pop("history")
        typer.echo(json.dumps(rows, indent=2))
        return
    from rich.table import Table

    table = Table("id", "status", "detected (UTC)", "pipe", "DMA", "size L/s", "lost m³", "note")
    for e in events:
        table.add_row(
            str(e.id),
            e.status,
            f"{e.detected_at:%Y-%m-%d %H:%M}",
            e.pipe or "",
            e.dma or "",
            "" if e.size_lps is None else f"{e.size_lps:.2f}",
            f"{e.water_lost_m3(now):,.0f}",
            "close proposed" if e.close_proposed else "",
        )
    Console(width=120).print(table)


@app.command("event")
def event_cmd(event_id: EventId, store: StoreOption = None, as_json: JsonFlag = False) -> None:
    """One event: candidate pipes, history and water lost."""
    from tirta.leaks.events import get_event
    from tirta.telemetry.store import open_store

    with open_store(_store_url(store)) as st:
        info = get_event(st, event_id).to_dict(st.data_now())
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    out = Console(width=120, highlight=False, soft_wrap=True)
    size = "?" if info["size_lps"] is None else f"{info['size_lps']:.2f}"
    out.print(
        f"event {info['id']}  {info['status']}  DMA {info['dma'] or '-'}  pipe {info['pipe']}  "
        f"size {size} L/s  start {info['start']}  water lost {info['water_lost_m3']:,.1f} m³",
        markup=False,
    )
    if info["close_proposed"]:
        out.print(f"tirta proposes closing: {info['close_proposed']}", markup=False)
    cands = ", ".join(
        f"{c['pipe']} ({c['score']:.2f})" if c.get("score") is not None else str(c["pipe"])
        for c in info["candidates"][:10]
    )
    out.print(f"candidates: {cands}", markup=False)
    for h in info["history"]:
        out.print(f"  {h['at']}  {h['status']:<12} {h['who']:<10} {h['note'] or ''}", markup=False)


def _step(name: str, status: str, help_text: str) -> None:
    def command(
        event_id: EventId, who: Who, note: Note = None, at: At = None, store: StoreOption = None
    ) -> None:
        from tirta.leaks.events import transition
        from tirta.telemetry.store import open_store

        with open_store(_store_url(store)) as st:
            event = transition(st, event_id, status, who=who, note=note, at=at)
        typer.echo(f"event {event.id} is {event.status}")

    command.__doc__ = help_text
    app.command(name)(command)


_step("ack", "acknowledged", "Acknowledge an open event.")
_step("dispatch", "dispatched", "Send a crew to an acknowledged event.")
_step("repaired", "repaired", "Record the repair (use --at for when the leak was stopped).")
_step("close", "closed", "Close a repaired event.")
_step("false-alarm", "false_alarm", "Reject an event: no leak was found.")


@app.command("customers")
def customers_cmd(
    readings: Annotated[
        Path,
        typer.Argument(help="Folder with Customers.csv (hourly smart-meter readings, L/h) or the file"),
    ],
    train: Annotated[
        Path | None,
        typer.Option(
            "--train", help="Leak-free period for each customer's baseline (default: first 14 days)"
        ),
    ] = None,
    tariff: Annotated[float, typer.Option("--tariff", help="Water tariff per m³, for the cost")] = 1.5,
    customers: Annotated[
        Path | None, typer.Option("--customers", help="customers.csv (id, node) to name each node")
    ] = None,
    truth: Annotated[
        Path | None, typer.Option("--truth", help="customer_truth.csv: print precision and recall")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the alerts as CSV")] = None,
    events: Annotated[
        bool, typer.Option("--events", help="Open an event per new alert in the store")
    ] = False,
    store: StoreOption = None,
) -> None:
    """Customer-side leaks and meter faults from smart meters, with the loss in m³/day and its cost."""
    from tirta.hydraulics.customers import read_customer_truth, read_customers
    from tirta.leaks.customers import detect_customers, open_customer_events, score_customers

    data = read_customers(readings)
    base = read_customers(train) if train is not None else None
    nodes = None
    if customers is not None:
        try:
            table = pd.read_csv(customers, dtype=str)
        except (OSError, pd.errors.ParserError) as exc:
            raise InputError(f"cannot read customers: {exc}", file=customers) from None
        for col in ("id", "node"):
            if col not in table.columns:
                raise InputError(f"missing column '{col}'", file=customers, line=1, field=col)
        nodes = dict(zip(table["id"], table["node"], strict=True))
    console = Console(stderr=True, soft_wrap=True)
    with console.status(f"checking {data.shape[1]} customers"):
        alerts = detect_customers(data, base, tariff_per_m3=tariff, nodes=nodes)
    for a in alerts:
        flow = f"  {a.flow_lph:.1f} L/h" if a.flow_lph is not None else ""
        console.print(
            f"{a.customer} {a.node or ''}  {a.kind:<18} from {a.start:%Y-%m-%d %H:%M}, seen "
            f"{a.detected_at:%Y-%m-%d %H:%M}{flow}  loss {a.loss_m3_day:.3f} m³/day  "
            f"cost {a.cost_per_day:.2f}/day",
            markup=False,
        )
    console.print(f"{len(alerts)} customer alert(s)", markup=False)
    if out is not None:
        pd.DataFrame([a.to_dict() for a in alerts]).to_csv(out, index=False)
    if events:
        from tirta.telemetry.store import open_store

        with open_store(_store_url(store)) as st:
            opened, skipped = open_customer_events(st, alerts, tariff_per_m3=tariff)
        console.print(f"opened events {_ids(opened)}; {skipped} already open", markup=False)
    if truth is not None:
        typer.echo(
            json.dumps(score_customers(read_customer_truth(truth), alerts, min_flow_lph=5.0), indent=2)
        )
