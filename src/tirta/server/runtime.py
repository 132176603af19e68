"""The serve process's runtime: one serialised store handle, the scheduler, MQTT and the demo's replay.

``create_app(cfg, runtime=Runtime(settings))`` hands it the opened store when the app starts
(:meth:`Runtime.attach`), starts it with the app's shared state (:meth:`Runtime.start`) and stops it
when the app stops (:meth:`Runtime.stop`); its routers (``GET /api/v1/status`` …) join the API.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from fastapi import APIRouter

from tirta.server.jobs import Analytics, BalanceJob, CompactJob, DetectJob
from tirta.server.mqtt import MqttService
from tirta.server.replay import Replay
from tirta.server.scheduler import Clock, Job, Scheduler, wall_clock
from tirta.server.settings import RuntimeSettings
from tirta.server.writes import SerialStore
from tirta.telemetry.ingest.mqtt import MqttConfig
from tirta.telemetry.store.base import Store
from tirta.telemetry.store.postgres import PostgresStore

if TYPE_CHECKING:
    from tirta.api.deps import AppState

__all__ = ["Runtime"]

log = logging.getLogger("tirta.server")


class Runtime:
    """Background work of ``tirta serve`` around one store handle whose writes are serialised."""

    def __init__(self, settings: RuntimeSettings | None = None, *, replay: Replay | None = None) -> None:
        self.settings = settings or RuntimeSettings()
        self.replay = replay
        self.analytics = Analytics()
        self.store: SerialStore | None = None
        self.scheduler: Scheduler | None = None
        self.mqtt: MqttService | None = None
        self.started_at: pd.Timestamp | None = None
        self.extra_jobs: list[Job] = []
        self.alerts: Any = None  # tirta.alerts.Dispatcher when an alerts file is configured

    @property
    def clock(self) -> Clock:
        """The runtime's "now": the replay's clock in the demo, else the wall clock."""
        return self.replay.clock if self.replay is not None else wall_clock

    @property
    def routers(self) -> list[APIRouter]:
        from tirta.server.status import router

        return [router]

    # --- lifecycle (called by the app's lifespan) -------------------------------------------------
    def attach(self, store: Store) -> Store:
        """Wrap the opened store so every writer in this process takes its turn; return the wrapper."""
        self.store = SerialStore(store)
        return self.store.as_store()

    def start(self, state: AppState) -> None:
        """Start MQTT ingestion (when configured), the replay (demo) and the scheduled analytics."""
        if self.store is None:
            raise RuntimeError("attach the store before starting the runtime")
        store = self.store.as_store()
        cfg = self.settings
        self.started_at = wall_clock()
        if cfg.mqtt_url:
            self.mqtt = MqttService(
                store,
                MqttConfig(
                    broker=cfg.mqtt_url,
                    topics=cfg.mqtt_topics,
                    client_id=cfg.mqtt_client_id,
                    username=cfg.mqtt_username,
                    password=cfg.mqtt_password,
                ),
            )
            self.mqtt.start()
        if self.replay is not None:
            self.replay.store = store
            self.replay.start_thread()
        self.analytics.store = store  # the nightly balance and job history last in the store
        self.scheduler = Scheduler(
            self._jobs(state, store), clock=self.clock, tick_s=cfg.tick_s, store=store
        )
        self.scheduler.start()
        log.info("runtime started: jobs %s", ", ".join(self.scheduler.jobs))

    def _jobs(self, state: AppState, store: Store) -> list[Job]:
        cfg = self.settings
        network, dmas = state.model()
        detect_off = None
        if cfg.train is None:
            detect_off = "no calibration window: set TIRTA_TRAIN_FROM and TIRTA_TRAIN_TO"
            train = (pd.Timestamp(0, tz="UTC"), pd.Timestamp(1, tz="UTC"))
        else:
            train = cfg.train
        detect = DetectJob(
            store, network, dmas, train, self.clock,
            window_days=cfg.detect_window_days, workers=cfg.detect_workers,
        )  # fmt: skip
        balance = BalanceJob(
            store, network, dmas, self.clock, self.analytics, days=cfg.balance_days, billing=cfg.billing
        )
        inner = getattr(store, "store", store)
        if isinstance(inner, PostgresStore) and (cfg.balance_workers > 1 or cfg.dask_scheduler):
            from tirta.hydraulics.executors import make_executor

            executor = make_executor(
                cfg.balance_workers if not cfg.dask_scheduler else None, cfg.dask_scheduler
            )
            paths = state.settings
            balance.fan_out = (inner.url, str(paths.dmas), str(paths.network), executor)
        jobs = [
            Job("detect", detect, every_s=cfg.detect_every_s, disabled=detect_off),
            Job("nightly_balance", balance, daily_at=cfg.nightly_at, run_at_start=False),
        ]
        if isinstance(getattr(store, "store", store), PostgresStore):  # DuckDB stores columns already
            compact = CompactJob(store, self.clock)
            jobs.append(Job("nightly_compact", compact, daily_at=cfg.nightly_at, run_at_start=False))
        if cfg.alerts_file is not None:
            jobs.append(self._alerts_job(store, cfg.alerts_file))
        return [*jobs, *self.extra_jobs]

    def _alerts_job(self, store: Store, path: Path) -> Job:
        """Check the alert rules every ``alerts_every_s``; delivery runs on the dispatcher's threads."""
        from tirta.alerts import AlertsJob, Dispatcher, load_alerts

        self.alerts = Dispatcher(store, load_alerts(path))
        watcher = AlertsJob(self.alerts, self.clock, self._job_states)
        return Job("alerts", watcher, every_s=self.settings.alerts_every_s)

    def _job_states(self) -> dict[str, Any]:
        return self.scheduler.status() if self.scheduler is not None else {}

    def stop(self) -> None:
        """Stop feeding first (replay, MQTT: pending messages are committed), then the jobs."""
        if self.replay is not None:
            self.replay.stop()
        if self.mqtt is not None:
            self.mqtt.stop()
        if self.scheduler is not None:
            self.scheduler.stop()
        if self.alerts is not None:
            self.alerts.close()
        if self.store is not None:
            self.store.store.flush()

    # --- status -------------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """Jobs, ingestion services, the write lock and the clock, JSON-ready."""
        return {
            "started_at": self.started_at,
            "clock": self.clock(),
            "store": self.store.store.display_url if self.store is not None else None,
            "writes": self.store.stats() if self.store is not None else None,
            "jobs": self.scheduler.status() if self.scheduler is not None else {},
            "mqtt": self.mqtt.status() if self.mqtt is not None else None,
            "replay": self.replay.status() if self.replay is not None else None,
        }
