"""What is worth telling people: alerts drawn from the store (events, readings, flags) and job states.

Each alert has a stable key (``leak.opened:42``): the dispatcher sends each key once per subscription,
however often the watcher runs and however many server processes run it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from tirta.alerts.config import Thresholds
from tirta.telemetry.store import Store

__all__ = ["Alert", "collect"]

LOOKBACK = pd.Timedelta(days=1)  # events, flags and silence older than this are history, not news


@dataclass(frozen=True)
class Alert:
    """One thing to tell: its rule, a stable key, a title, severity (info, warning, critical), details."""

    rule: str
    key: str
    title: str
    severity: str
    at: pd.Timestamp
    details: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        """Plain text for an e-mail body."""
        lines = [
            self.title,
            "",
            f"rule: {self.rule}",
            f"severity: {self.severity}",
            f"at: {self.at:%Y-%m-%d %H:%M} UTC",
        ]
        lines += [f"{k}: {v}" for k, v in self.details.items()]
        return "\n".join(lines) + "\n"

    def payload(self) -> dict[str, Any]:
        """The JSON body of a webhook."""
        return {
            "rule": self.rule,
            "key": self.key,
            "title": self.title,
            "severity": self.severity,
            "at": self.at.isoformat(),
            "details": self.details,
        }


def _event_alerts(store: Store, now: pd.Timestamp, th: Thresholds) -> list[Alert]:
    from tirta.leaks.events import list_events

    out: list[Alert] = []
    for ev in list_events(store):
        if not ev.active:
            continue
        where = ev.pipe or "unknown pipe"
        info = {
            "event": ev.id,
            "dma": ev.dma,
            "pipe": ev.pipe,
            "size_lps": ev.size_lps,
            "status": ev.status,
        }
        if ev.detected_at >= now - LOOKBACK:
            size = f"{ev.size_lps:.1f} L/s" if ev.size_lps is not None else "size unknown"
            out.append(
                Alert(
                    "leak.opened",
                    f"leak.opened:{ev.id}",
                    f"Leak {ev.id} near {where} ({size})",
                    "critical",
                    ev.detected_at,
                    info,
                )
            )
        if ev.status == "open" and now - ev.detected_at >= pd.Timedelta(minutes=th.unacknowledged_min):
            minutes = (now - ev.detected_at).total_seconds() / 60.0
            out.append(
                Alert(
                    "leak.unacknowledged",
                    f"leak.unacknowledged:{ev.id}",
                    f"Leak {ev.id} near {where} unacknowledged for {minutes:.0f} min",
                    "warning",
                    now,
                    info,
                )
            )
        first = store.get_record("alert.size", str(ev.id))
        if ev.size_lps is not None and first is None:
            store.put_record("alert.size", str(ev.id), {"size_lps": ev.size_lps}, only_if_new=True)
        elif ev.size_lps is not None and first is not None:
            base = float(first.value.get("size_lps") or 0.0)
            if base > 0 and ev.size_lps >= th.escalation_factor * base:
                out.append(
                    Alert(
                        "leak.escalated",
                        f"leak.escalated:{ev.id}",
                        f"Leak {ev.id} near {where} grew from {base:.1f} to {ev.size_lps:.1f} L/s",
                        "critical",
                        now,
                        info,
                    )
                )
    return out


def _silent_sensors(store: Store, now: pd.Timestamp, th: Thresholds) -> list[Alert]:
    ids = list(store.sensors().sensors)
    if not ids:
        return []
    frame = store.read(ids, now - LOOKBACK, now + pd.Timedelta(seconds=1))
    cut = now - pd.Timedelta(minutes=th.silent_min)
    out = []
    for sid in ids:
        col = frame[sid].dropna() if sid in frame else pd.Series(dtype=float)
        if col.empty or col.index[-1] >= cut:
            continue
        last = col.index[-1]
        out.append(
            Alert(
                "sensor.silent",
                f"sensor.silent:{sid}:{last.isoformat()}",
                f"Sensor {sid} silent since {last:%Y-%m-%d %H:%M} UTC",
                "warning",
                now,
                {"sensor": sid, "last_reading": last.isoformat()},
            )
        )
    return out


def _flag_alerts(store: Store, now: pd.Timestamp) -> list[Alert]:
    flags = store.flags(None, now - LOOKBACK, now + pd.Timedelta(seconds=1))
    out = []
    for row in flags.itertuples(index=False):
        start = pd.Timestamp(row.start)
        out.append(
            Alert(
                "quality.flag",
                f"quality.flag:{row.sensor}:{row.kind}:{start.isoformat()}",
                f"Sensor {row.sensor}: {row.kind} from {start:%Y-%m-%d %H:%M} UTC",
                "info",
                start,
                {"sensor": row.sensor, "kind": row.kind, "detail": getattr(row, "detail", "")},
            )
        )
    return out


def _job_alerts(jobs: Mapping[str, Mapping[str, Any]], now: pd.Timestamp) -> list[Alert]:
    out = []
    for name, state in jobs.items():
        error, started = state.get("last_error"), state.get("last_start")
        ok = state.get("last_ok")
        if (
            not error
            or started is None
            or (ok is not None and pd.Timestamp(ok) >= pd.Timestamp(started))
        ):
            continue
        at = pd.Timestamp(started)
        out.append(
            Alert(
                "job.failed",
                f"job.failed:{name}:{at.isoformat()}",
                f"Job {name} failed: {error}",
                "warning",
                at,
                {"job": name, "error": str(error)},
            )
        )
    return out


def _compliance_alerts(store: Store, now: pd.Timestamp) -> list[Alert]:
    """Breaches that the wastewater domain records as ``compliance.breach`` records."""
    out = []
    for rec in store.records("compliance.breach"):
        if rec.updated_at < now - LOOKBACK:
            continue
        v = rec.value
        title = f"Plant {v.get('plant', '?')}: {v.get('parameter', '?')} {v.get('value', '?')} over {v.get('limit', '?')}"
        out.append(
            Alert(
                "compliance.breach",
                f"compliance.breach:{rec.key}",
                title,
                "critical",
                rec.updated_at,
                dict(v),
            )
        )
    return out


def collect(
    store: Store,
    now: pd.Timestamp,
    thresholds: Thresholds,
    jobs: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[Alert]:
    """Every alert that holds at ``now`` (UTC); the dispatcher keeps them from repeating."""
    return [
        *_event_alerts(store, now, thresholds),
        *_silent_sensors(store, now, thresholds),
        *_flag_alerts(store, now),
        *_job_alerts(jobs or {}, now),
        *_compliance_alerts(store, now),
    ]
