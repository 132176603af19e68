"""MQTT ingestion: subscribe with QoS 1, commit in batches, acknowledge only what is committed.

Payloads: a JSON object ``{"sensor": id, "t": ISO-8601 or epoch s, "v": number, "unit": "bar"}``, a
JSON array of them, or SenML (RFC 8428). The session is persistent (fixed client id, clean session
off) and acknowledgements are manual, so a crash before a commit makes the broker deliver the batch
again, and the idempotent store turns the resend into duplicates: nothing lost, nothing doubled.
"""

from __future__ import annotations

import json
import math
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
import pandas as pd

from tirta.errors import InputError, StoreError
from tirta.telemetry.ingest.batch import parse_common
from tirta.telemetry.ingest.records import ingest_records
from tirta.telemetry.schema import QUARANTINE_COLUMNS, IngestResult
from tirta.telemetry.store.base import Store

__all__ = ["MqttConfig", "MqttIngester", "parse_broker_url", "parse_payload"]

_EPOCH_SENML = 2**28  # SenML: times below this are relative to "now"


@dataclass(frozen=True)
class MqttConfig:
    """Where to listen and how: broker URL (``mqtt://host:1883`` or ``mqtts://``), topic filters."""

    broker: str
    topics: tuple[str, ...] = ("tirta/+/readings",)
    client_id: str = "tirta-ingest"
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    insecure_tls: bool = False
    qos: int = 1
    batch_max: int = 20_000  # messages per commit at most
    batch_bytes: int = 8_000_000  # payload bytes that make a batch full (commit without waiting)
    flush_s: float = 0.5  # commit at least this often while messages wait
    linger_s: float = 0.05  # commit as soon as nothing new arrived for this long
    max_payload_bytes: int = 1_000_000
    keepalive_s: int = 30


@dataclass
class _Pending:
    topic: str
    payload: bytes
    mid: int
    qos: int


@dataclass
class Parsed:
    """Records to validate and payloads that could not even be read (quarantined as they came)."""

    records: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)


def parse_broker_url(url: str) -> tuple[str, int, bool]:
    """(host, port, tls) from ``mqtt://host:port`` or ``mqtts://host:port``."""
    parsed = urlparse(url if "://" in url else f"mqtt://{url}")
    if parsed.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
        raise InputError(
            f"unknown broker scheme '{parsed.scheme}'; expected mqtt:// or mqtts://", field="--broker"
        )
    tls = parsed.scheme in ("mqtts", "ssl")
    if not parsed.hostname:
        raise InputError(f"no host in broker URL '{url}'", field="--broker")
    try:
        port = parsed.port or (8883 if tls else 1883)
    except ValueError:
        raise InputError(f"bad port in broker URL '{url}'", field="--broker") from None
    return parsed.hostname, port, tls


def _time(value: Any) -> Any:
    """Epoch seconds become ISO-8601 UTC text so one batch can mix both forms; text passes as is."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float) and math.isfinite(value):
        try:
            return pd.Timestamp(value, unit="s", tz="UTC").isoformat()
        except (OverflowError, ValueError):
            return str(value)
    return value


def _senml(items: list[Any], now: float) -> list[dict[str, Any]]:
    """Resolve SenML base fields (bn, bt, bu, bv) into plain records."""
    out = []
    bn, bt, bu, bv = "", 0.0, None, 0.0
    for item in items:
        if not isinstance(item, dict):
            raise ValueError("SenML records must be objects")
        bn = str(item.get("bn", bn))
        bt = float(item.get("bt", bt))
        bu = item.get("bu", bu)
        bv = float(item.get("bv", bv))
        if "n" not in item and "v" not in item:
            continue  # a record carrying base fields only
        t = bt + float(item.get("t", 0.0))
        if abs(t) < _EPOCH_SENML:
            t += now
        value = item.get("v")
        out.append(
            {
                "sensor": bn + str(item.get("n", "")),
                "time": _time(t),
                "value": (bv + value) if isinstance(value, int | float) else value,
                "unit": item.get("u", bu),
            }
        )
    return out


def _is_senml(items: list[Any]) -> bool:
    return any(isinstance(i, dict) and ("bn" in i or "n" in i or "bt" in i) for i in items)


def parse_payload(
    topic: str, payload: bytes, *, max_bytes: int = 1_000_000, now: float | None = None
) -> Parsed:
    """Turn one MQTT message into raw records; unreadable messages become quarantine rows."""
    received = pd.Timestamp.now(tz="UTC")
    source = f"mqtt:{topic}"

    def reject(reason: str, detail: str) -> Parsed:
        text = payload[:2000].decode("utf-8", errors="replace")
        return Parsed(
            rejected=[
                {
                    "received_at": received,
                    "source": source,
                    "sensor": "",
                    "payload": text,
                    "reason": reason,
                    "detail": detail,
                }
            ]
        )

    if len(payload) > max_bytes:
        return reject("payload too large", f"{len(payload)} bytes > limit {max_bytes}")
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return reject("malformed payload", f"not JSON: {exc}")
    items = data if isinstance(data, list) else [data]
    try:
        if _is_senml(items):
            records = _senml(items, time.time() if now is None else now)
        else:
            if not all(isinstance(item, dict) for item in items):
                raise ValueError("expected an object or an array of objects")
            records = [
                {
                    "sensor": item.get("sensor", item.get("id")),
                    "time": item.get("t", item.get("time")),
                    "value": item.get("v", item.get("value")),
                    "unit": item.get("unit", item.get("u")),
                }
                for item in items
            ]
            for rec in records:
                if not isinstance(rec["time"], str):
                    rec["time"] = _time(rec["time"])
    except (ValueError, TypeError) as exc:
        return reject("malformed payload", str(exc))
    # a rejected record keeps its fields as JSON (tirta.telemetry.validate), not the whole message
    return Parsed(records=records)


class MqttIngester:
    """Subscribe to readings and commit them to ``store``; acknowledge each message after its commit."""

    def __init__(
        self, store: Store, cfg: MqttConfig, *, log: Callable[[str], None] | None = None
    ) -> None:
        self.store = store
        self.cfg = cfg
        self.log = log or (lambda _msg: None)
        self.totals = IngestResult()
        self.messages = 0
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self._pending: list[_Pending] = []
        self._pending_bytes = 0
        self._first_at = self._last_at = 0.0  # monotonic arrival of the oldest and newest pending
        self._lock = threading.Lock()
        self._wake = threading.Event()
        host, port, tls = parse_broker_url(cfg.broker)
        self._host, self._port = host, port
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=cfg.client_id,
            clean_session=False,  # the broker keeps our subscription and queued QoS 1 messages
            manual_ack=True,
        )
        if cfg.username is not None:
            client.username_pw_set(cfg.username, cfg.password)
        if tls or cfg.ca_file:
            client.tls_set(
                ca_certs=cfg.ca_file, cert_reqs=ssl.CERT_NONE if cfg.insecure_tls else ssl.CERT_REQUIRED
            )
            client.tls_insecure_set(cfg.insecure_tls)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        self.client = client

    # --- paho callbacks (network thread) --------------------------------------------------------
    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if getattr(reason, "is_failure", False):
            self.log(f"broker refused the connection: {reason}")
            return
        self.connected.set()
        self.log(f"connected to {self._host}:{self._port}")
        client.subscribe([(t, self.cfg.qos) for t in self.cfg.topics])

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, _mid: int, codes: Any, _p: Any) -> None:
        failed = [c for c in codes if getattr(c, "is_failure", False)]
        if failed:
            self.log(f"broker refused the subscription: {failed}")
            return
        self.subscribed.set()  # from here on the broker routes (and queues) readings to us
        self.log(f"subscribed to {', '.join(self.cfg.topics)}")

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self.connected.clear()
        self.subscribed.clear()
        self.log(f"disconnected ({reason}); reconnecting with backoff")

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        item = _Pending(msg.topic, bytes(msg.payload), msg.mid, msg.qos)
        now = time.monotonic()
        with self._lock:
            if not self._pending:
                self._first_at = now
            self._last_at = now
            self._pending.append(item)
            self._pending_bytes += len(item.payload)
            full = (
                len(self._pending) >= self.cfg.batch_max or self._pending_bytes >= self.cfg.batch_bytes
            )
        if full:
            self._wake.set()

    # --- lifecycle --------------------------------------------------------------------------------
    def start(self, timeout_s: float = 10.0) -> None:
        """Connect (retrying until ``timeout_s``) and start the network thread."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self.client.connect(self._host, self._port, keepalive=self.cfg.keepalive_s)
                break
            except OSError as exc:
                if time.monotonic() > deadline:
                    raise StoreError(f"cannot reach MQTT broker {self.cfg.broker}: {exc}") from None
                time.sleep(0.5)
        self.client.loop_start()

    def stop(self) -> None:
        """Commit what is pending, then disconnect."""
        self.flush()
        self.client.disconnect()
        self.client.loop_stop()

    def flush(self) -> IngestResult:
        """Commit every pending message, then acknowledge them; returns the counts of this batch."""
        with self._lock:
            batch, self._pending, self._pending_bytes = self._pending, [], 0
        if not batch:
            return IngestResult()
        common = parse_common([item.payload for item in batch], self.cfg.max_payload_bytes)
        if common is not None:  # every message of the usual shape: parsed at once
            result = IngestResult()
            if common.num_rows:
                result = ingest_records(self.store, common, source="mqtt")
        else:
            result = self._ingest_each(batch)
        for item in batch:  # only now: the batch is committed
            if item.qos > 0:
                self.client.ack(item.mid, item.qos)
        self.totals = self.totals + result
        self.messages += len(batch)
        return result

    def _ingest_each(self, batch: list[_Pending]) -> IngestResult:
        """Parse message by message (any payload form); unreadable messages go to the quarantine."""
        parsed = Parsed()
        for item in batch:
            one = parse_payload(item.topic, item.payload, max_bytes=self.cfg.max_payload_bytes)
            parsed.records += one.records
            parsed.rejected += one.rejected
        result = IngestResult()
        if parsed.records:
            result = ingest_records(self.store, parsed.records, source="mqtt")
        if parsed.rejected:
            frame = pd.DataFrame(parsed.rejected, columns=list(QUARANTINE_COLUMNS))
            self.store.write(
                pd.DataFrame({"sensor": [], "time": [], "value": []}), source="mqtt", quarantine=frame
            )
            reasons = pd.Series([r["reason"] for r in parsed.rejected]).value_counts()
            result = result + IngestResult(
                quarantined=len(parsed.rejected), reasons={str(k): int(v) for k, v in reasons.items()}
            )
        return result

    def _due(self) -> bool:
        """Whether the pending messages should be committed now: the batch is full, the oldest waited
        ``flush_s`` or nothing new arrived for ``linger_s`` (the burst is over)."""
        now = time.monotonic()
        with self._lock:
            if not self._pending:
                return False
            return (
                len(self._pending) >= self.cfg.batch_max
                or self._pending_bytes >= self.cfg.batch_bytes
                or now - self._first_at >= self.cfg.flush_s
                or now - self._last_at >= self.cfg.linger_s
            )

    def run(
        self,
        *,
        duration_s: float | None = None,
        max_messages: int | None = None,
        idle_s: float | None = None,
        on_flush: Callable[[IngestResult], None] | None = None,
    ) -> IngestResult:
        """Ingest until ``duration_s`` elapses, ``max_messages`` are committed or nothing arrived for
        ``idle_s`` seconds (forever if none is given)."""
        start = last = time.monotonic()
        try:
            while True:
                self._wake.wait(min(self.cfg.linger_s, self.cfg.flush_s))
                self._wake.clear()
                result = self.flush() if self._due() else IngestResult()
                now = time.monotonic()
                if result.accepted or result.duplicate or result.quarantined:
                    last = now
                    if on_flush is not None:
                        on_flush(result)
                if max_messages is not None and self.messages >= max_messages:
                    break
                if duration_s is not None and now - start >= duration_s:
                    break
                if idle_s is not None and self.connected.is_set() and now - last >= idle_s:
                    break
        finally:
            self.stop()
        return self.totals
