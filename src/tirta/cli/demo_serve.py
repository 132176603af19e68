"""The live part of ``tirta demo``: serve the city, replay its telemetry, show alarms as they open."""

from __future__ import annotations

import threading

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from tirta.cli.serve import free_port, run_server
from tirta.demo import DemoCity, live_demo
from tirta.leaks.events import Event, list_events
from tirta.server import Runtime

__all__ = ["serve_demo"]

HOST = "127.0.0.1"


def _alarm(event: Event) -> str:
    size = f"{event.size_lps:.1f} L/s" if event.size_lps is not None else "size unknown"
    start = f"{event.start:%Y-%m-%d %H:%M}" if event.start is not None else "?"
    return (
        f"[bold red]alarm[/] event {event.id}: DMA {event.dma or '?'}, near pipe {event.pipe}, "
        f"{size}, started about {start} UTC"
    )


def _watch(console: Console, runtime: Runtime, stop: threading.Event) -> None:
    """Show the replay's progress and print each new leak event until ``stop``."""
    replay = runtime.replay
    assert replay is not None
    seen: set[int] = set()
    with Progress(
        TextColumn("[bold]replaying[/] {task.fields[clock]}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%  {task.fields[events]} event(s)"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task("replay", total=max(len(replay.records), 1), clock="…", events=0)
        while not stop.wait(1.0):
            bar.update(task, completed=replay.sent, clock=f"{replay.clock():%Y-%m-%d %H:%M} UTC")
            store = runtime.store
            if store is None:
                continue
            try:
                events = list_events(store.as_store())
            except Exception:  # the store is closing: nothing more to show
                continue
            for event in sorted(events, key=lambda e: e.id):
                if event.id not in seen:
                    seen.add(event.id)
                    bar.console.print(_alarm(event))
            bar.update(task, events=len(seen))


def serve_demo(
    console: Console,
    city: DemoCity,
    *,
    port: int = 8000,
    speed: float = 2880.0,
    detect_every: str = "10s",
    for_s: float | None = None,
) -> None:
    """Serve ``city`` on 127.0.0.1 (``port`` or a free one), replaying its telemetry, until Ctrl-C
    or ``for_s`` seconds; prints the URLs and the demo users' passwords and keys first."""
    from tirta.api import create_app

    live = live_demo(city, speed=speed, detect_every=detect_every)
    chosen = free_port(HOST, port)
    url = f"http://{HOST}:{chosen}"
    if chosen != port:
        console.print(f"port {port} is taken; serving on {chosen}")
    console.print(f"[bold]Serving the demo city[/] at {url}/  (API docs: {url}/api/v1/docs)")
    for name, key in live.keys.items():
        console.print(
            f"  {name}: dashboard password {live.passwords[name]}  API key {key}", markup=False
        )
    operator = live.keys["demo-operator"]
    console.print(f'  try: curl -H "Authorization: Bearer {operator}" {url}/api/v1/events', markup=False)
    replay = live.runtime.replay
    assert replay is not None
    days = (replay.end - replay.start).total_seconds() / 86400.0
    console.print(
        f"Replaying {days:.1f} days after the calibration window at {speed:g}× "
        f"({days * 86400 / speed / 60:.1f} min); leak detection every {detect_every}. Ctrl-C stops."
    )
    stop = threading.Event()
    watcher = threading.Thread(
        target=_watch, args=(console, live.runtime, stop), name="tirta-demo-watch", daemon=True
    )
    watcher.start()
    try:
        run_server(
            create_app(live.settings, runtime=live.runtime), HOST, chosen, for_s=for_s,
            log_level="warning",
        )  # fmt: skip
    finally:
        stop.set()
        watcher.join(5.0)
    console.print(f"stopped; the live store is {live.settings.store_url}", markup=False)
