"""MQTT ingestion: subscribe with QoS 1, commit in batches, acknowledge only what is committed.

Payloads: a JSON object ``{"sensor": id, "t": ISO-8601 or epoch s, "v": number, "unit": "bar"}``, a
JSON array of them, or SenML (RFC 8428). The session is persistent (fixed client id, clean session
off) and acknowledgements are manual, so a crash before a commit makes the broker deliver the batch
again, and the idempotent store turns the resend into duplicates: nothing lost, nothing doubled.
"""

from __future__ import annotations

import contextlib
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
from tirta.telemetry.ingest.batch import Read, read_common, warm_up
from tirta.telemetry.ingest.pipe import CommitPipe
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
    # payload bytes read together (one parse) as soon as they are pending; a commit takes every batch
    # read meanwhile, so commits grow with the load without waiting for a full batch
    batch_bytes: int = 2_000_000
    commit_bytes: int = 16_000_000  # payload bytes read and waiting for a commit, at most
    commit_min_bytes: int = 8_000_000  # under load, a commit waits (flush_s at most) for this much
    flush_s: float = 0.15  # commit at least this often while messages wait
    linger_s: float = 0.02  # commit as soon as nothing new arrived for this long (the burst is over)
    max_payload_bytes: int = 1_000_000
    # threads of the store's own engine while run() ingests (None: as they are). A process that only
    # ingests (``tirta ingest mqtt``) sets 1: its reading and committing threads keep two cores busy,
    # and DuckDB's parallel commit only competes with them (median 0.61 s against 0.65 s for a 1 M
    # burst and 6 % less CPU, 2 cores, 2026-12-07; the append ceiling is the same either way)
    store_threads: int | None = None
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
    except (ValueError, RecursionError) as exc:  # an integer of > 4300 digits, nesting too deep
        return reject("malformed payload", f"JSON beyond what is read: {str(exc)[:200]}")
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
    except (ValueError, TypeError, OverflowError) as exc:  # OverflowError: an integer beyond floats
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
        """Set DuckDB's JSON reader up (so the first batch does not wait for it), connect (retrying until
        ``timeout_s``) and start the network thread. The sensor registry is read at the first commit:
        sensors registered before the first readings arrive count."""
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
        return self._commit(batch, [self._parse(batch)])

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

    def _commit(self, batch: list[_Pending], reads: list[Read | None]) -> IngestResult:
        """Validate and commit ``batch`` (read as ``reads``, one after the other), then acknowledge
        its messages (never before). When every part was read at once and is of the common shape
        (verified here unless the reading thread did it meanwhile), their records are committed as
        one table; otherwise the messages are parsed one by one."""
        parts = [read for read in reads if read is not None]
        records = Read.join(parts) if len(parts) == len(reads) else None
        if records is not None:  # every message of the usual shape
            result = IngestResult()
            if records.num_rows:
                result = ingest_records(self.store, records, source="mqtt")
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

    def _commit_group(self, group: list[tuple[list[_Pending], Read | None]]) -> IngestResult:
        """Commit batches read one after the other as one (see :meth:`_commit`)."""
        return self._commit([item for part, _ in group for item in part], [r for _, r in group])

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

        Two threads: this one reads batches of about ``batch_bytes`` as they arrive; a committing
        thread commits, then acknowledges, everything read since its last commit as one (group
        commit: under load commits grow, up to ``commit_bytes``, and neither thread waits for a full
        batch). Commits run one at a time in arrival order, so a later correction still wins; after a
        failed commit nothing newer is committed (the broker resends every unacknowledged message, in
        order, on the next connection).
        """
        start = last = time.monotonic()
        pipe: CommitPipe[tuple[list[_Pending], Read | None], IngestResult] = CommitPipe(
            self._commit_group,
            self._wake,
            max_messages=self.cfg.batch_max,
            min_bytes=self.cfg.commit_min_bytes,
            max_wait_s=self.cfg.flush_s,
        )
        batch: list[_Pending] = []  # taken but not yet handed to the committing thread
        failed = False

        def settle() -> None:  # report what the committing thread committed; raise what it raised
            nonlocal last
            for result in pipe.results():
                if result.accepted or result.duplicate or result.quarantined:
                    last = time.monotonic()
                    if on_flush is not None:
                        on_flush(result)

        threads = (
            None if self.cfg.store_threads is None else self.store.set_threads(self.cfg.store_threads)
        )
        try:
            warm_up()
            while True:
                settle()
                now = time.monotonic()
                if max_messages is not None and self.messages >= max_messages:
                    break
                if duration_s is not None and now - start >= duration_s:
                    break
                idle = idle_s is not None and self.connected.is_set() and now - last >= idle_s
                if idle and pipe.idle():
                    break
                if pipe.queued_bytes < self.cfg.commit_bytes and self._due():
                    batch, more = self._take(self.cfg.batch_bytes, self.cfg.batch_max)
                    read = self._parse(batch)  # overlaps the commit of earlier batches
                    size = sum(len(item.payload) for item in batch)
                    pipe.put((batch, read), len(batch), size, more=more)
                    batch = []
                    continue
                # nothing to read: verify a batch that waits for its commit (the committing thread
                # then only validates and stores it; at the end of a burst both threads work)
                unverified = [r for _, r in pipe.waiting() if r is not None and r.verified is None]
                if unverified:
                    unverified[-1].verify()
                    continue
                self._wake.wait(min(self.cfg.linger_s, self.cfg.flush_s))
                self._wake.clear()
        finally:
            try:
                pipe.close()  # commits what was read, in order, unless a commit failed
                settle()
            except BaseException:
                failed = True
                raise
            finally:
                try:
                    if failed:  # commit nothing newer than a failed batch: the broker resends all
                        self.client.disconnect()
                        self.client.loop_stop()
                    else:
                        self._restore(batch)  # interrupted between take and hand-over: keep order
                        self.stop()
                finally:
                    if threads is not None:
                        with contextlib.suppress(StoreError):  # closed meanwhile: nothing to give back
                            self.store.set_threads(threads)
        return self.totals
