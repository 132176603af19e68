"""MQTT ingestion inside the serve process: the ingester of ``tirta ingest mqtt`` on its own thread.

Only the ingester's public calls are used (``start``, ``flush``, ``resend``, ``stop``): commits happen
every ``flush_s`` through the serialised store, acknowledgements after each commit as in the CLI; after
a failed commit the session is restarted so that the broker redelivers in order. A broker
that cannot be reached is retried with backoff and reported in the status; it never stops the server.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from tirta.telemetry.ingest.mqtt import MqttConfig, MqttIngester
from tirta.telemetry.store.base import Store

__all__ = ["MqttService"]

log = logging.getLogger("tirta.server.mqtt")


class MqttService:
    """Subscribe and commit readings until :meth:`stop`; :meth:`status` says how it goes."""

    def __init__(self, store: Store, cfg: MqttConfig, *, retry_s: float = 5.0) -> None:
        self.cfg = cfg
        self.retry_s = retry_s
        self.ingester = MqttIngester(store, cfg, log=self._log)
        self.last_error: str | None = None
        self.last_event: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _log(self, message: str) -> None:
        self.last_event = message
        log.info("mqtt: %s", message)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="tirta-mqtt", daemon=True)
            self._thread.start()

    def _connect(self) -> bool:
        delay = self.retry_s
        while not self._stop.is_set():
            try:
                self.ingester.start(timeout_s=self.retry_s)
                self.last_error = None
                return True
            except Exception as exc:  # an unreachable broker: report, wait, try again
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("mqtt: %s; retrying in %.0f s", self.last_error, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, 60.0)
        return False

    def _run(self) -> None:
        if not self._connect():
            return
        while not self._stop.wait(self.cfg.flush_s):
            try:
                self.ingester.flush()
            except Exception as exc:  # not acknowledged: the broker delivers the batch again
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("mqtt: commit failed; the broker will redeliver")
                # nothing newer may be committed first: reconnect, and the broker resends in order
                self.ingester.resend()
                if not self._connect():
                    return
        try:
            self.ingester.stop()  # commits what is pending, then disconnects
        except Exception:
            log.exception("mqtt: stopping the ingester failed")

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def status(self) -> dict[str, Any]:
        t = self.ingester.totals
        return {
            "broker": self.cfg.broker,
            "topics": list(self.cfg.topics),
            "connected": self.ingester.connected.is_set(),
            "subscribed": self.ingester.subscribed.is_set(),
            "messages": self.ingester.messages,
            "accepted": t.accepted,
            "duplicate": t.duplicate,
            "quarantined": t.quarantined,
            "last_event": self.last_event,
            "last_error": self.last_error,
        }
