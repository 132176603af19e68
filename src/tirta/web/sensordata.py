"""Sensor pages: the registry with latest values, flag and quarantine counts; one sensor's chart data."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tirta.api import services
from tirta.api.errors import NotFoundError
from tirta.errors import InputError
from tirta.telemetry.schema import si_column
from tirta.telemetry.store import Store
from tirta.units import SI_UNITS, display_column, from_si, shown_value
from tirta.web.overview import data_span

__all__ = ["sensor_series", "sensor_table"]


def _quarantine_counts(store: Store) -> dict[str, int]:
    frame = store.quarantined()
    if frame.empty or "sensor" not in frame:
        return {}
    counts = frame["sensor"].dropna().astype(str).value_counts()
    return {str(k): int(v) for k, v in counts.items()}


def sensor_table(store: Store, shown: dict[str, str] | None = None) -> dict[str, Any]:
    """Every sensor with its SI column, element, DMA, latest value and time, flags and quarantine counts.

    ``value`` is in the display unit of its quantity from ``shown`` (``unit``, ``display_column``),
    ``value_si`` in SI; without ``shown`` both are SI."""
    shown = shown or {}
    registry = store.sensors()
    span = data_span(store)
    ids = list(registry.sensors)
    latest: dict[str, tuple[float, str]] = {}
    if span is not None and ids:
        frame = store.read(ids, span[1] - pd.Timedelta(hours=6), span[1] + pd.Timedelta(seconds=1))
        for sid in ids:
            col = frame[sid].dropna() if sid in frame else pd.Series(dtype=float)
            if not col.empty:
                latest[sid] = (float(col.iloc[-1]), col.index[-1].strftime("%Y-%m-%d %H:%M"))
    flags = store.flags()
    flag_counts = flags.groupby("sensor").size().to_dict() if not flags.empty else {}
    quarantine = _quarantine_counts(store)
    rows = []
    for sid, s in registry.sensors.items():
        value, at = latest.get(sid, (None, None))
        display, unit = shown_value(value, s.quantity, shown)
        rows.append(
            {
                "id": sid,
                "kind": s.kind,
                "column": si_column(s),
                "display_column": display_column(sid, s.quantity, unit) if unit else si_column(s),
                "element": s.element,
                "dma": s.dma,
                "value": display,
                "unit": unit or SI_UNITS.get(s.quantity),
                "value_si": value,
                "at": at,
                "flags": int(flag_counts.get(sid, 0)),
                "quarantined": quarantine.get(sid, 0),
            }
        )
    unknown = sum(v for k, v in quarantine.items() if k not in registry.sensors)
    out: dict[str, Any] = services.jsonable(
        {
            "as_of": None if span is None else span[1].strftime("%Y-%m-%dT%H:%M:%SZ"),
            "sensors": rows,
            "quarantined_unknown_sensors": unknown,
            "quarantined_total": int(sum(quarantine.values())),
        }
    )
    return out


def sensor_series(
    store: Store, sensor: str, days: float = 2.0, shown: dict[str, str] | None = None
) -> dict[str, Any]:
    """The last ``days`` of one sensor (raw, or hourly beyond a week) with its quality flags; values
    in the display unit ``shown`` gives its quantity (``unit``, ``display_column``), else SI."""
    registry = store.sensors()
    if sensor not in registry.sensors:
        raise NotFoundError(f"unknown sensor '{sensor}'", field="sensor")
    if not 0 < days <= 366:
        raise InputError("days must be in (0, 366]", field="days")
    s = registry.sensors[sensor]
    span = data_span(store)
    end = span[1] + pd.Timedelta(seconds=1) if span else pd.Timestamp.now(tz="UTC")
    start = end - pd.Timedelta(days=days)
    frame = store.read([sensor], start, end, every="1h" if days > 7 else None)
    col = frame[sensor] if sensor in frame else pd.Series(dtype=float)
    flags = store.flags([sensor], start, end)
    quarantine = store.quarantined()
    mine = quarantine[quarantine["sensor"] == sensor] if "sensor" in quarantine else quarantine.iloc[:0]
    reasons = mine["reason"].astype(str).value_counts().to_dict() if "reason" in mine else {}
    unit = (shown or {}).get(s.quantity)
    values = col.to_numpy(dtype=float)
    if unit is not None:
        values = from_si(values, unit, s.quantity)
    out: dict[str, Any] = services.jsonable(
        {
            "sensor": {**s.__dict__, "column": si_column(s), "quantity": s.quantity},
            "from": start,
            "to": end,
            "time": [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in col.index],
            "value": [None if not np.isfinite(v) else round(float(v), 6) for v in values],
            "unit": unit or SI_UNITS.get(s.quantity),
            "display_column": display_column(sensor, s.quantity, unit) if unit else si_column(s),
            "flags": [
                {"start": r["start"], "end": r["end"], "kind": r["kind"], "detail": r["detail"]}
                for r in flags.to_dict("records")
            ],
            "quarantined": len(mine),
            "quarantine_reasons": reasons,
        }
    )
    return out
