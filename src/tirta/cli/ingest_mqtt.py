"""``tirta ingest mqtt``: subscribe to sensor readings on an MQTT broker and store them."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from tirta.config import settings
from tirta.errors import InputError
from tirta.telemetry.ingest.mqtt import MqttConfig, MqttIngester
from tirta.telemetry.schema import IngestResult
from tirta.telemetry.store import open_store


def shared_topics(topics: list[str], group: str | None) -> tuple[str, ...]:
    """The topic filters, each as ``$share/GROUP/filter`` when a group is given (MQTT shared subscription)."""
    if group is None:
        return tuple(topics)
    if not group or any(ch in group for ch in "/+#"):
        raise InputError(f"a group name has no '/', '+' or '#', got {group!r}", field="--group")
    if any(t.startswith("$share/") for t in topics):
        raise InputError("give plain topic filters with --group, not $share/…", field="--topic")
    return tuple(f"$share/{group}/{t}" for t in topics)


def mqtt(
    broker: Annotated[str, typer.Option(help="mqtt://host:1883 or mqtts://host:8883")],
    topic: Annotated[
        list[str] | None,
        typer.Option(help="Topic filter (repeat for several); default tirta/+/readings"),
    ] = None,
    store: Annotated[
        str | None,
        typer.Option("--store", help="Store URL (default: $TIRTA_STORE_URL, else ./tirta.duckdb)"),
    ] = None,
    client_id: Annotated[
        str, typer.Option(help="MQTT client id; the broker keeps this session's queue")
    ] = ("tirta-ingest"),
    group: Annotated[
        str | None,
        typer.Option(
            help="Share the subscription with the other ingesters of this group ($share/GROUP/topic): "
            "each message goes to one of them; give each its own --client-id"
        ),
    ] = None,
    username: Annotated[str | None, typer.Option(help="Broker user name")] = None,
    password: Annotated[
        str | None,
        typer.Option(help="Broker password (or env TIRTA_MQTT_PASSWORD)", envvar="TIRTA_MQTT_PASSWORD"),
    ] = None,
    ca_file: Annotated[Path | None, typer.Option(help="CA certificate for TLS")] = None,
    insecure_tls: Annotated[bool, typer.Option(help="Do not verify the broker's certificate")] = False,
    max_payload: Annotated[int, typer.Option(help="Largest payload accepted, bytes")] = 1_000_000,
    duration: Annotated[float | None, typer.Option(help="Stop after this many seconds")] = None,
    max_messages: Annotated[int | None, typer.Option(help="Stop after this many messages")] = None,
    idle_exit: Annotated[
        float | None, typer.Option(help="Stop when nothing arrived for this many seconds")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the totals as one JSON object at the end")
    ] = False,
) -> None:
    """Ingest readings from MQTT (QoS 1, acknowledged after commit) until stopped."""
    cfg = MqttConfig(
        broker=broker,
        topics=shared_topics(topic or ["tirta/+/readings"], group),
        client_id=client_id,
        username=username,
        password=password,
        ca_file=str(ca_file) if ca_file else None,
        insecure_tls=insecure_tls,
        max_payload_bytes=max_payload,
        store_threads=1,  # this process only ingests (see MqttConfig.store_threads)
    )

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    def progress(result: IngestResult) -> None:
        log(
            f"committed: {result.accepted} accepted, {result.duplicate} duplicate, {result.quarantined} quarantined"
        )

    with open_store(settings(store_url=store).store_url) as st:
        ingester = MqttIngester(st, cfg, log=log)
        ingester.start()
        try:
            totals = ingester.run(
                duration_s=duration, max_messages=max_messages, idle_s=idle_exit, on_flush=progress
            )
        except KeyboardInterrupt:
            totals = ingester.totals
    if as_json:
        typer.echo(json.dumps(totals.to_dict()))
    else:
        typer.echo(
            f"{ingester.messages} messages: {totals.accepted} accepted, {totals.duplicate} duplicate, "
            f"{totals.quarantined} quarantined"
        )
