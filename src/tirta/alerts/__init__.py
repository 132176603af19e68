"""Alerts that reach people: rules over the store's events, readings, flags and jobs, routed to
e-mail (SMTP) and signed webhooks by role, with quiet hours, retries and a dead-letter list."""

from __future__ import annotations

from tirta.alerts.config import (
    RULES,
    AlertsConfig,
    Channel,
    Subscription,
    Thresholds,
    load_alerts,
    parse_alerts,
)
from tirta.alerts.dispatch import Dispatcher, in_quiet, notifications
from tirta.alerts.rules import Alert, collect

__all__ = [
    "RULES",
    "Alert",
    "AlertsConfig",
    "AlertsJob",
    "Channel",
    "Dispatcher",
    "Subscription",
    "Thresholds",
    "collect",
    "in_quiet",
    "load_alerts",
    "notifications",
    "parse_alerts",
]


class AlertsJob:
    """One watcher tick for ``tirta serve``'s scheduler: collect alerts at the clock's now and submit."""

    def __init__(self, dispatcher: Dispatcher, clock: object, jobs: object = None) -> None:
        self.dispatcher = dispatcher
        self.clock = clock
        self.jobs = jobs

    def __call__(self) -> dict[str, int]:
        now = self.clock()  # type: ignore[operator]
        states = self.jobs() if callable(self.jobs) else {}
        found = collect(self.dispatcher.store, now, self.dispatcher.config.thresholds, states)
        return {"alerts": len(found), **self.dispatcher.submit(found, now)}
