"""Routing alerts to subscriptions and delivering them, each recorded with its delivery status.

Every (alert, subscription) pair is claimed once in the store's records (kind ``notification``), so
two server processes never send it twice; a worker thread per channel delivers with retries and
exponential backoff, then dead-letters it (status ``dead``). Quiet hours hold a notification until
they end (critical ones break through when the subscription says so). Nothing here runs on the
threads of detection or ingestion: a channel that hangs or fails delays only its own queue.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from datetime import time as clock_time
from typing import Any, Final

import pandas as pd

from tirta.alerts.channels import DeliveryError, send
from tirta.alerts.config import AlertsConfig, Channel, Subscription
from tirta.alerts.rules import Alert
from tirta.telemetry.store import Store

__all__ = ["KIND", "Dispatcher", "in_quiet", "notifications"]

KIND: Final = "notification"
log = logging.getLogger("tirta.alerts")
Sender = Callable[[Channel, Alert, tuple[str, ...]], None]


def in_quiet(window: tuple[clock_time, clock_time] | None, now: pd.Timestamp) -> bool:
    """Whether ``now`` (UTC) falls in a quiet window ``(start, end)``, which may wrap past midnight."""
    if window is None:
        return False
    t = now.tz_convert("UTC").time()
    start, end = window
    return start <= t < end if start <= end else (t >= start or t < end)


def _alert_of(value: dict[str, Any]) -> Alert:
    a = value["alert"]
    return Alert(
        a["rule"], a["key"], a["title"], a["severity"], pd.Timestamp(a["at"]), dict(a["details"])
    )


class Dispatcher:
    """Claims, holds and delivers notifications; :meth:`submit` never waits on a channel."""

    def __init__(
        self,
        store: Store,
        config: AlertsConfig,
        *,
        sender: Sender = send,
        backoff_s: float | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.sender = sender
        self.backoff_s = backoff_s
        self._subs = {s.name: s for s in config.subscriptions}
        self._queues: dict[str, queue.Queue[str | None]] = {}
        self._threads: list[threading.Thread] = []
        self._busy = 0
        self._lock = threading.Condition()
        for name in config.channels:
            q: queue.Queue[str | None] = queue.Queue()
            self._queues[name] = q
            t = threading.Thread(
                target=self._work, args=(name, q), name=f"tirta-alerts-{name}", daemon=True
            )
            t.start()
            self._threads.append(t)
        self._requeue_unsent()

    # --- routing ------------------------------------------------------------------------------------
    def submit(self, alerts: Iterable[Alert], now: pd.Timestamp) -> dict[str, int]:
        """Claim each new (alert, subscription) pair and queue or hold it; release held ones whose
        quiet hours ended. Returns counts: new, held, released."""
        counts = {"new": 0, "held": 0, "released": 0}
        for alert in alerts:
            for sub in self.config.subscriptions:
                if alert.rule not in sub.rules:
                    continue
                held = in_quiet(sub.quiet, now) and not (
                    sub.urgent_in_quiet and alert.severity == "critical"
                )
                key = f"{alert.key}|{sub.name}"
                record = {
                    "alert": alert.payload(),
                    "subscription": sub.name,
                    "role": sub.role,
                    "channel": sub.channel,
                    "to": list(sub.to),
                    "status": "held" if held else "pending",
                    "attempts": 0,
                    "created_at": now.isoformat(),
                    "error": None,
                }
                if self.store.put_record(KIND, key, record, only_if_new=True):
                    counts["held" if held else "new"] += 1
                    if not held:
                        self._enqueue(sub.channel, key)
        for rec in self.store.records(KIND):
            owner = self._subs.get(rec.value.get("subscription", ""))
            if (
                rec.value.get("status") == "held"
                and owner is not None
                and not in_quiet(owner.quiet, now)
            ):
                self.store.put_record(KIND, rec.key, {**rec.value, "status": "pending"})
                self._enqueue(owner.channel, rec.key)
                counts["released"] += 1
        return counts

    def _requeue_unsent(self) -> None:
        """After a restart: what was claimed but not yet delivered goes out now (nothing is lost)."""
        for rec in self.store.records(KIND):
            if (
                rec.value.get("status") in ("pending", "retrying")
                and rec.value.get("channel") in self._queues
            ):
                self._enqueue(rec.value["channel"], rec.key)

    def _enqueue(self, channel: str, key: str) -> None:
        with self._lock:
            self._busy += 1
        self._queues[channel].put(key)

    # --- delivery ------------------------------------------------------------------------------------
    def _deliver(self, channel: Channel, key: str) -> None:
        rec = self.store.get_record(KIND, key)
        if rec is None or rec.value.get("status") not in ("pending", "retrying"):
            return
        value = dict(rec.value)
        alert = _alert_of(value)
        attempts = int(value.get("attempts", 0))
        backoff = (
            self.backoff_s
            if self.backoff_s is not None
            else float(channel.options.get("backoff_s", 2.0))
        )
        limit = int(channel.options.get("retries", self.config.thresholds.max_attempts))
        while True:
            attempts += 1
            try:
                self.sender(channel, alert, tuple(value.get("to") or ()))
            except DeliveryError as exc:
                dead = attempts >= limit
                value.update(attempts=attempts, error=str(exc), status="dead" if dead else "retrying")
                self.store.put_record(KIND, key, value)
                if dead:
                    log.warning("alert %s dead-lettered after %d attempts: %s", key, attempts, exc)
                    return
                time.sleep(backoff * 2 ** (attempts - 1))
                continue
            value.update(
                attempts=attempts,
                status="sent",
                error=None,
                sent_at=pd.Timestamp.now(tz="UTC").isoformat(),
            )
            self.store.put_record(KIND, key, value)
            return

    def _work(self, name: str, q: queue.Queue[str | None]) -> None:
        channel = self.config.channels[name]
        while True:
            key = q.get()
            if key is None:
                return
            try:
                self._deliver(channel, key)
            except Exception:  # a store or channel bug must not kill the worker
                log.exception("alert %s: delivery failed", key)
            finally:
                with self._lock:
                    self._busy -= 1
                    self._lock.notify_all()

    def wait(self, timeout_s: float = 60.0) -> bool:
        """Wait until every queued notification was delivered or dead-lettered; False on time-out."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while self._busy > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
        return True

    def close(self) -> None:
        for q in self._queues.values():
            q.put(None)
        for t in self._threads:
            t.join(timeout=5)


def notifications(store: Store, status: str | None = None) -> list[dict[str, Any]]:
    """Recorded notifications, newest first: key, rule, title, subscription, channel, status, attempts, error."""
    out = []
    for rec in store.records(KIND):
        v = rec.value
        if status is not None and v.get("status") != status:
            continue
        out.append(
            {
                "key": rec.key,
                "rule": v["alert"]["rule"],
                "title": v["alert"]["title"],
                "subscription": v.get("subscription"),
                "role": v.get("role"),
                "channel": v.get("channel"),
                "status": v.get("status"),
                "attempts": v.get("attempts"),
                "error": v.get("error"),
                "created_at": v.get("created_at"),
                "sent_at": v.get("sent_at"),
                "updated_at": rec.updated_at.isoformat(),
            }
        )
    return out


def subscription(config: AlertsConfig, name: str) -> Subscription:
    """A subscription by name (for the CLI's test message)."""
    for sub in config.subscriptions:
        if sub.name == name:
            return sub
    from tirta.errors import InputError

    raise InputError(
        f"no subscription named {name!r}; defined: {', '.join(s.name for s in config.subscriptions)}",
        field="subscription",
    )
