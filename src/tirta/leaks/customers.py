"""Customer-side leaks and meter faults from smart (AMR) meters: per-customer alerts with the loss.

Each customer's hourly readings are compared with its own leak-free baseline (a training period):

- continuous night flow (a leak behind the meter): the day's smallest hourly reading stays above the
  baseline minimum by ``leak_min_lph`` on ``leak_days`` days in a row; the loss is that excess;
- stopped meter: zero for ``stopped_hours`` hours in a row from a customer who is never dry a day;
- reverse flow: negative readings in ``reverse_hours`` hours of a day;
- tampering: blocks of zero readings at hours when this customer almost always uses water (the
  chance of such a block under the baseline below ``tamper_p``) on ``tamper_days`` days of a week;
- under-registering meter: the volume of the last ``under_days`` days falls below ``under_ratio`` of
  the baseline, by more than ``under_z`` standard errors.

Loss is in m³/day (the unbilled or leaked volume) and its cost at a tariff (currency per m³).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from tirta.errors import InputError
from tirta.hydraulics.customers import CUSTOMER_EVENT_KINDS, LPH
from tirta.leaks.events import list_events, open_event
from tirta.telemetry.store.base import Store

__all__ = [
    "CustomerAlert",
    "CustomerRules",
    "detect_customers",
    "open_customer_events",
    "score_customers",
]


@dataclass(frozen=True)
class CustomerRules:
    """Thresholds of the per-customer rules (flows in L/h, durations in hours or days)."""

    leak_min_lph: float = 2.5
    leak_days: int = 3
    stopped_hours: int = 288  # shorter dry spells are holidays as often as stopped meters
    reverse_hours: int = 3
    tamper_p: float = 1e-3
    tamper_days: int = 3
    under_ratio: float = 0.8
    under_days: int = 14
    under_z: float = 4.0


@dataclass(frozen=True)
class CustomerAlert:
    """One customer's problem: kind, estimated start, when tirta saw it, loss (m³/day) and cost."""

    customer: str
    kind: str
    start: pd.Timestamp
    detected_at: pd.Timestamp
    loss_m3_day: float
    cost_per_day: float
    flow_lph: float | None = None
    node: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("start", "detected_at"):
            out[key] = self.__getattribute__(key).strftime("%Y-%m-%dT%H:%M:%SZ")
        return out


@dataclass(frozen=True)
class _Baseline:
    """A customer's leak-free behaviour: median daily volume of wet days (L), its sd, the dry chance
    per hour of day."""

    volume_l: float
    volume_sd_l: float
    days: int
    min_lph: float  # 95th percentile of the day's smallest hourly reading
    p_dry: np.ndarray  # 24 values: share of days with a zero reading at that hour (smoothed)
    longest_dry_h: int


def _baseline(x: np.ndarray, hours: np.ndarray) -> _Baseline:
    """Baseline of one customer from its hourly readings (L/h) over whole training days."""
    n_days = len(x) // 24
    if n_days < 3:
        raise InputError("the customer baseline needs at least 3 whole days", field="train")
    days = x[: n_days * 24].reshape(n_days, 24)
    dry = np.zeros(24)
    count = np.zeros(24)
    for h, v in zip(hours[: n_days * 24], x[: n_days * 24], strict=True):
        dry[h] += v == 0
        count[h] += 1
    vol = days.sum(axis=1)
    wet = vol[vol > 0] if (vol > 0).sum() >= 3 else vol
    return _Baseline(
        volume_l=float(np.median(wet)),
        volume_sd_l=float(max(wet.std(ddof=1), 0.05 * wet.mean(), 1.0)),
        days=n_days,
        min_lph=float(np.percentile(days.min(axis=1), 95)),
        p_dry=(dry + 0.5) / (count + 1.0),
        longest_dry_h=_longest_run(x == 0),
    )


def _longest_run(mask: np.ndarray) -> int:
    best = run = 0
    for m in mask:
        run = run + 1 if m else 0
        best = max(best, run)
    return best


def _day_starts(index: pd.DatetimeIndex) -> np.ndarray:
    """Row positions where a new UTC day starts (and the end)."""
    day = np.asarray(index.normalize().asi8)
    return np.r_[0, np.flatnonzero(np.diff(day)) + 1, len(index)]


def detect_customers(
    readings: pd.DataFrame,
    train: pd.DataFrame | None = None,
    *,
    tariff_per_m3: float = 1.5,
    nodes: dict[str, str] | None = None,
    rules: CustomerRules | None = None,
) -> list[CustomerAlert]:
    """Alerts for hourly ``readings`` (m³/s, time × customer) against the baseline of ``train``
    (default: the first 14 days of ``readings``); at most one alert per customer and kind episode."""
    r = rules or CustomerRules()
    if tariff_per_m3 < 0:
        raise InputError("must not be negative", field="tariff")
    if train is None:
        cut = readings.index[0] + pd.Timedelta(days=14)
        train, readings = readings[readings.index < cut], readings[readings.index >= cut]
    alerts: list[CustomerAlert] = []
    index = pd.DatetimeIndex(readings.index)
    bounds = _day_starts(index)
    hours = np.asarray(index.hour)
    t_hours = np.asarray(pd.DatetimeIndex(train.index).hour)
    for cust in readings.columns:
        if cust not in train.columns:
            continue
        xt = train[cust].to_numpy(dtype=float) / LPH
        ok = np.isfinite(xt)
        if ok.sum() < 72:
            continue
        base = _baseline(np.where(ok, xt, 0.0), t_hours)
        x = readings[cust].to_numpy(dtype=float) / LPH
        node = (nodes or {}).get(str(cust))
        found = []
        found += _leaks(str(cust), x, index, bounds, base, r)
        found += _stopped(str(cust), x, index, base, r)
        found += _reverse(str(cust), x, index, bounds, r)
        found += _tampering(str(cust), x, index, bounds, hours, base, r)
        if not any(a[0] in ("stopped", "reverse_flow", "tampering") for a in found):
            found += _under(str(cust), x, index, bounds, base, r)
        for kind, start, at, loss_m3_day, flow in found:
            alerts.append(
                CustomerAlert(
                    str(cust), kind, start, at, round(loss_m3_day, 4),
                    round(loss_m3_day * tariff_per_m3, 4), flow, node,
                )
            )  # fmt: skip
    return sorted(alerts, key=lambda a: (a.detected_at, a.customer))


Found = tuple[str, pd.Timestamp, pd.Timestamp, float, float | None]


def _leaks(
    cust: str,
    x: np.ndarray,
    index: pd.DatetimeIndex,
    bounds: np.ndarray,
    base: _Baseline,
    r: CustomerRules,
) -> list[Found]:
    """Continuous flow: the day's smallest reading above the baseline minimum, days in a row."""
    out: list[Found] = []
    run: list[int] = []
    armed = True
    for d in range(len(bounds) - 1):
        a, b = bounds[d], bounds[d + 1]
        if b - a < 20:
            continue
        excess = float(np.nanmin(x[a:b])) - base.min_lph
        if excess >= r.leak_min_lph:
            run.append(d)
        else:
            run, armed = [], True
        if armed and len(run) >= r.leak_days:
            flow = float(np.median([np.nanmin(x[bounds[k] : bounds[k + 1]]) for k in run]))
            flow -= base.min_lph
            first = bounds[run[0]]
            below = np.flatnonzero(x[:first] - base.min_lph < r.leak_min_lph)
            start = index[below[-1] + 1] if len(below) else index[first]
            out.append(("customer_leak", start, index[b - 1], flow * 24 / 1000.0, round(flow, 2)))
            armed = False
    return out


def _stopped(
    cust: str, x: np.ndarray, index: pd.DatetimeIndex, base: _Baseline, r: CustomerRules
) -> list[Found]:
    """Zero readings for ``stopped_hours`` from a customer never dry that long in the baseline."""
    if base.longest_dry_h >= r.stopped_hours or base.volume_l <= 0:
        return []
    out: list[Found] = []
    run = 0
    for i, v in enumerate(x):
        run = run + 1 if v == 0 else 0
        if run == r.stopped_hours:
            out.append(("stopped", index[i - run + 1], index[i], base.volume_l / 1000.0, None))
    return out


def _reverse(
    cust: str, x: np.ndarray, index: pd.DatetimeIndex, bounds: np.ndarray, r: CustomerRules
) -> list[Found]:
    """Negative readings in ``reverse_hours`` hours of a day (once per episode)."""
    out: list[Found] = []
    armed = True
    for d in range(len(bounds) - 1):
        a, b = bounds[d], bounds[d + 1]
        neg = x[a:b] < 0
        if neg.sum() >= r.reverse_hours:
            if armed:
                first = a + int(np.argmax(neg))
                loss = -float(x[a:b][neg].sum()) * 24 / (b - a) / 1000.0
                out.append(("reverse_flow", index[first], index[b - 1], loss, None))
            armed = False
        elif not neg.any():
            armed = True
    return out


def _tampering(
    cust: str,
    x: np.ndarray,
    index: pd.DatetimeIndex,
    bounds: np.ndarray,
    hours: np.ndarray,
    base: _Baseline,
    r: CustomerRules,
) -> list[Found]:
    """Blocks of zero readings at hours this customer almost always uses water, most days of a week."""
    out: list[Found] = []
    flagged: list[tuple[int, int]] = []  # (day, first row of its least likely dry block)
    armed = True
    log_p = np.log(base.p_dry)
    expected = base.volume_l / 24.0
    for d in range(len(bounds) - 1):
        a, b = bounds[d], bounds[d + 1]
        day = x[a:b]
        if b - a < 20 or not (day != 0).any():
            continue  # a whole dry day is a stopped meter or an absence, not a block
        best, best_at, run_lp, run_at = 0.0, -1, 0.0, a
        for i in range(a, b):
            if x[i] == 0:
                if run_lp == 0.0:
                    run_at = i
                run_lp += log_p[hours[i]]
                if run_lp < best:
                    best, best_at = run_lp, run_at
            else:
                run_lp = 0.0
        if best < np.log(r.tamper_p):
            flagged.append((d, best_at))
        flagged = [f for f in flagged if f[0] > d - 7]
        if armed and len(flagged) >= r.tamper_days:
            start = index[flagged[0][1]]
            zero_l = sum(
                float(np.sum(x[bounds[f[0]] : bounds[f[0] + 1]] == 0)) * expected for f in flagged
            )
            out.append(("tampering", start, index[b - 1], zero_l / 7.0 / 1000.0, None))
            armed = False
        elif not flagged:
            armed = True
    return out


def _under(
    cust: str,
    x: np.ndarray,
    index: pd.DatetimeIndex,
    bounds: np.ndarray,
    base: _Baseline,
    r: CustomerRules,
) -> list[Found]:
    """The median volume of the wet days among the last ``under_days`` below ``under_ratio`` of the
    baseline (dry days are absences, not a slow meter)."""
    vols = [
        (d, float(np.nansum(x[bounds[d] : bounds[d + 1]])))
        for d in range(len(bounds) - 1)
        if bounds[d + 1] - bounds[d] >= 24
    ]
    n = r.under_days
    for k in range(n - 1, len(vols)):
        window = [v for _, v in vols[k - n + 1 : k + 1] if v > 0]
        if len(window) < n // 2:
            continue
        med = float(np.median(window))
        se = 1.25 * base.volume_sd_l * np.sqrt(1.0 / len(window) + 1.0 / base.days)
        if med < r.under_ratio * base.volume_l and (base.volume_l - med) > r.under_z * se:
            d0 = vols[k - n + 1][0]
            at = index[bounds[vols[k][0] + 1] - 1]
            return [("under_registering", index[bounds[d0]], at, (base.volume_l - med) / 1000.0, None)]
    return []


def score_customers(
    truth: pd.DataFrame, alerts: list[CustomerAlert], *, min_flow_lph: float = 0.0
) -> dict[str, Any]:
    """Precision and recall of alerts against planted events, overall and per kind.

    An alert is a hit when its customer and kind match a planted event and it was raised while the
    event was on (up to a day after it ended). ``min_flow_lph`` leaves out planted leaks below it
    (and alerts they explain) from the leak figures.
    """
    rows = truth.reset_index(drop=True)
    used: set[int] = set()
    hits: list[tuple[CustomerAlert, int]] = []
    fps: list[CustomerAlert] = []
    for al in alerts:
        match = [
            k
            for k, t in rows.iterrows()
            if t["customer"] == al.customer
            and t["kind"] == al.kind
            and t["start"] <= al.detected_at <= t["end"] + pd.Timedelta(days=1)
        ]
        if match:
            k = int(match[0])
            if k not in used:
                used.add(k)
                hits.append((al, k))
        else:
            fps.append(al)
    small = {
        int(k)
        for k, t in rows.iterrows()
        if t["kind"] == "customer_leak" and float(t.get("flow_lph") or 0.0) < min_flow_lph
    }

    def figures(kind: str | None) -> dict[str, Any]:
        planted = [
            int(k)
            for k, t in rows.iterrows()
            if (kind is None or t["kind"] == kind) and int(k) not in small
        ]
        tp = sum(1 for _, k in hits if k in planted)
        fp = sum(1 for a in fps if kind is None or a.kind == kind)
        delays = [
            (a.detected_at - rows.loc[k, "start"]).total_seconds() / 86400
            for a, k in hits
            if k in planted
        ]
        return {
            "planted": len(planted),
            "tp": tp,
            "fp": fp,
            "fn": len(planted) - tp,
            "precision": tp / (tp + fp) if tp + fp else None,
            "recall": tp / len(planted) if planted else None,
            "delay_days_median": float(np.median(delays)) if delays else None,
        }

    out: dict[str, Any] = {"all": figures(None)}
    for kind in CUSTOMER_EVENT_KINDS:
        out[kind] = figures(kind)
    leak_hits = [(a, k) for a, k in hits if rows.loc[k, "kind"] == "customer_leak"]
    errs = [
        abs(a.loss_m3_day * 1000 / 24 - float(rows.loc[k, "flow_lph"])) / float(rows.loc[k, "flow_lph"])
        for a, k in leak_hits
    ]
    out["customer_leak"]["flow_error_rel_median"] = float(np.median(errs)) if errs else None
    return out


def open_customer_events(
    store: Store, alerts: list[CustomerAlert], *, tariff_per_m3: float
) -> tuple[list[int], int]:
    """Open one event per alert (kind = the alert's kind, size = the loss as L/s); an alert for a
    customer and kind that already has an active event is skipped. Returns (opened ids, skipped)."""
    active = {
        (e.customer.get("id"), e.kind) for e in list_events(store) if e.active and e.customer is not None
    }
    opened: list[int] = []
    skipped = 0
    for al in alerts:
        if (al.customer, al.kind) in active:
            skipped += 1
            continue
        info = {
            "id": al.customer,
            "node": al.node,
            "loss_m3_day": al.loss_m3_day,
            "cost_per_day": al.cost_per_day,
            "tariff_per_m3": tariff_per_m3,
            "flow_lph": al.flow_lph,
        }
        eid = open_event(
            store,
            detected_at=al.detected_at,
            start=al.start,
            size_lps=al.loss_m3_day / 86.4,
            candidates=[],
            dma=None,
            extra={"kind": al.kind, "customer": info},
        )
        opened.append(eid)
        active.add((al.customer, al.kind))
    return opened, skipped
