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
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
import pandas as pd

from tirta.errors import InputError, StoreError
from tirta.telemetry.ingest.batch import Read, read_common, warm_up
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
    batch_bytes: int = 8_000_000  # payload bytes that make a batch full (commit without waiting);
    # under load a batch holds what the ingester handles in about flush_s, at least this much
    # commit at least this often while messages wait; also the size of a batch under load. 0.15 s
    # rather than 0.5 s: smaller batches keep the reading and committing threads in step and end a
    # burst sooner (1 M readings: 0.80-0.87 s against 0.87-1.19 s over six runs each, 2026-12-07)
    flush_s: float = 0.15
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
        value = item.get("v", item.get("vs"))  # a string value (vs) is kept to be quarantined
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


def batch_budget(size: float, parse_s: float, commit_s: float, target_s: float) -> float:
    """Payload bytes a batch may hold so that each stage (parse, commit) takes about ``target_s``,
    from a batch of ``size`` bytes that took ``parse_s`` and ``commit_s``: under load batches grow
    (fewer fixed costs per reading) yet a commit still comes every ``target_s`` or so."""
    return size * target_s / max(parse_s, commit_s, 1e-3)


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
        """Set DuckDB's JSON reader up (so the first batch does not wait for it), connect (retrying until
        ``timeout_s``) and start the network thread."""
        warm_up()
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

    def resend(self) -> int:
        """After a failed commit: forget the messages received since (none is acknowledged) and
        disconnect, so that the broker delivers them all again, in order, on the next :meth:`start`;
        committing newer ones first would let a redelivered older value overwrite them. Returns how
        many were dropped."""
        with self._lock:
            dropped, self._pending, self._pending_bytes = len(self._pending), [], 0
        self.client.disconnect()
        self.client.loop_stop()
        self.connected.clear()
        return dropped

    def stop(self) -> None:
        """Commit what is pending, then disconnect."""
        self.flush()
        self.client.disconnect()
        self.client.loop_stop()

    def flush(self) -> IngestResult:
        """Commit every pending message, then acknowledge them; returns the counts of this batch."""
        batch, _ = self._take()
        if not batch:
            return IngestResult()
        return self._commit(batch, self._parse(batch))

    def _take(
        self, max_bytes: float = math.inf, max_messages: int | None = None
    ) -> tuple[list[_Pending], bool]:
        """The oldest pending messages in arrival order, at most ``max_messages`` of them and
        ``max_bytes`` payload bytes (but at least one), and whether more stay pending (due at once)."""
        with self._lock:
            pending = self._pending
            limit = len(pending) if max_messages is None else min(len(pending), max_messages)
            if limit == len(pending) and self._pending_bytes <= max_bytes:
                self._pending, self._pending_bytes = [], 0
                return pending, False
            k, size = 1, len(pending[0].payload)
            while k < limit and size + len(pending[k].payload) <= max_bytes:
                size += len(pending[k].payload)
                k += 1
            self._pending, self._pending_bytes = pending[k:], self._pending_bytes - size
            return pending[:k], True

    def _restore(self, batch: list[_Pending]) -> None:
        """Put taken messages back in front of the pending ones (the next batch takes them first)."""
        if batch:
            with self._lock:
                if not self._pending:
                    self._first_at = self._last_at = time.monotonic()
                self._pending[:0] = batch
                self._pending_bytes += sum(len(item.payload) for item in batch)

    def _parse(self, batch: list[_Pending]) -> Read | None:
        """A batch read as if of the common shape (see :mod:`~tirta.telemetry.ingest.batch`), else None
        (the commit then parses message by message). Touches no store: may overlap a commit."""
        return read_common([item.payload for item in batch], self.cfg.max_payload_bytes)

    def _commit(self, batch: list[_Pending], common: Read | None) -> IngestResult:
        """Check the shape of a batch read at once (here, so that the commit thread shares the work
        with the reading one), validate and commit it, then acknowledge its messages (never before)."""
        if common is not None and common.verify():  # every message of the usual shape
            result = IngestResult()
            if common.records.num_rows:
                result = ingest_records(self.store, common.records, source="mqtt")
        else:
            result = self._ingest_each(batch)
        for item in batch:  # only now: the batch is committed
            if item.qos > 0:
                self.client.ack(item.mid, item.qos)
        self.totals = self.totals + result
        self.messages += len(batch)
        return result

    def _timed_commit(self, batch: list[_Pending], common: Read | None) -> tuple[IngestResult, float]:
        """:meth:`_commit` and the seconds it took (the batch budget adapts to it)."""
        t0 = time.perf_counter()
        result = self._commit(batch, common)
        return result, time.perf_counter() - t0

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
        ``idle_s`` seconds (forever if none is given).

        Two stages: this thread parses a batch while a second one commits (and then acknowledges) the
        previous batch. Commits run one at a time in arrival order, so a later correction still wins;
        after a failed commit nothing newer is committed (the broker resends every unacknowledged
        message, in order, on the next connection). Under load a batch holds what the stages handle
        in about ``flush_s`` (:func:`batch_budget`), so commits keep coming that often.
        """
        start = last = time.monotonic()
        committer = ThreadPoolExecutor(1, thread_name_prefix="tirta-mqtt-commit")
        inflight: Future[tuple[IngestResult, float]] | None = None
        budget = float(self.cfg.batch_bytes)  # payload bytes per batch, adapted to the speed seen
        size, parse_s, full = 0.0, 0.0, False  # of the batch in flight

        def settle() -> None:  # wait for the commit in flight, report it and adapt the budget
            nonlocal inflight, last, budget
            if inflight is None:
                return
            (result, commit_s), inflight = inflight.result(), None
            if full or size >= self.cfg.batch_bytes:  # timed by the stages, not by the stream
                budget = max(
                    self.cfg.batch_bytes, batch_budget(size, parse_s, commit_s, self.cfg.flush_s)
                )
            if result.accepted or result.duplicate or result.quarantined:
                last = time.monotonic()
                if on_flush is not None:
                    on_flush(result)

        batch: list[_Pending] = []  # taken but not yet handed to the committer
        failed = False
        try:
            warm_up()
            while True:
                if inflight is not None and inflight.done():
                    settle()
                now = time.monotonic()
                if max_messages is not None and self.messages >= max_messages:
                    break
                if duration_s is not None and now - start >= duration_s:
                    break
                idle = idle_s is not None and self.connected.is_set() and now - last >= idle_s
                if idle and inflight is None:
                    break
                if self._due():
                    batch, cut = self._take(budget, self.cfg.batch_max)
                    t0 = time.perf_counter()
                    common = self._parse(batch)  # overlaps the commit of the previous batch
                    took = time.perf_counter() - t0
                    settle()
                    size, parse_s, full = float(sum(len(i.payload) for i in batch)), took, cut
                    inflight = committer.submit(self._timed_commit, batch, common)
                    inflight.add_done_callback(lambda _f: self._wake.set())
                    batch = []
                    continue
                self._wake.wait(min(self.cfg.linger_s, self.cfg.flush_s))
                self._wake.clear()
        finally:
            try:
                settle()
            except BaseException:
                failed = True
                raise
            finally:
                committer.shutdown()
                if failed:  # commit nothing newer than a failed batch: the broker resends them all
                    self.client.disconnect()
                    self.client.loop_stop()
                else:
                    self._restore(batch)  # interrupted between take and commit: keep the order
                    self.stop()
        return self.totals
