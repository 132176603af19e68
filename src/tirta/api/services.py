"""What each route calls: one function per operation over the domain packages, JSON-ready answers.

Routes parse and authorise; these functions call the domain (network, telemetry, leaks, balance) and
shape the result. Nothing here computes what a domain function already does.
"""

from __future__ import annotations

import json
import logging
import math
import tomllib
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from tirta.api.errors import ApiError, NotFoundError, inconsistent
from tirta.api.params import api_time
from tirta.balance import (
    BalanceOptions,
    Billing,
    audit_report,
    band_schemes,
    dma_balance,
    dma_balance_report,
    load_audit,
    parse_audit,
    parse_month_range,
    resolve_zone,
    run_audit,
)
from tirta.errors import InputError, TirtaError
from tirta.leaks.events import ACTIVE, TRANSITIONS, Event, get_event, list_events, transition
from tirta.network import DMA, Network
from tirta.telemetry.ingest import http as http_ingest
from tirta.telemetry.ingest.http import body_kind
from tirta.telemetry.schema import IngestResult, si_column
from tirta.telemetry.store import Store
from tirta.units import SI_UNITS, display_column, from_si

__all__ = [
    "ACTIONS",
    "compute_audit",
    "dma_report",
    "dmas_geojson",
    "event_action",
    "event_detail",
    "event_page",
    "ingest_body",
    "jsonable",
    "links_geojson",
    "nodes_geojson",
    "page",
    "public_kpis",
    "quarantine_page",
    "read_readings",
    "sensor_list",
]

log = logging.getLogger("tirta.api")

#: event actions of the API and the status each one moves an event to
ACTIONS = {
    "acknowledge": "acknowledged",
    "dispatch": "dispatched",
    "repair": "repaired",
    "close": "closed",
    "false-alarm": "false_alarm",
}


def jsonable(value: Any) -> Any:
    """Plain JSON values: non-finite floats become null, numpy and pandas scalars become Python."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [jsonable(v) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, pd.Timestamp):
        return None if value is pd.NaT else _iso(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    return value if isinstance(value, str) else str(value)


def _obj(value: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`jsonable` of a mapping, typed as the JSON object it is."""
    out: dict[str, Any] = jsonable(value)
    return out


def _iso(ts: pd.Timestamp) -> str:
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return str(ts.strftime("%Y-%m-%dT%H:%M:%SZ"))


def page(items: Sequence[Any], limit: int, offset: int) -> dict[str, Any]:
    """One page of a list: items, total, limit, offset and the offset of the next page (or null)."""
    total = len(items)
    chunk = list(items[offset : offset + limit])
    nxt = offset + limit if offset + limit < total else None
    return {"items": chunk, "total": total, "limit": limit, "offset": offset, "next_offset": nxt}


# --- network ----------------------------------------------------------------------------------------
def _collection(features: list[dict[str, Any]], limit: int, offset: int) -> dict[str, Any]:
    p = page(features, limit, offset)
    return {
        "type": "FeatureCollection",
        "features": p.pop("items"),
        **p,
        "crs_note": "model coordinates",
    }


def nodes_geojson(net: Network, limit: int, offset: int) -> dict[str, Any]:
    """Nodes as GeoJSON points in model coordinates, with type, elevation (m) and base demand (m³/s)."""
    features = [
        {
            "type": "Feature",
            "id": node_id,
            "geometry": {"type": "Point", "coordinates": [row["x"], row["y"]]},
            "properties": {
                "id": node_id,
                "type": row["type"],
                "elevation_m": row["elevation_m"],
                "base_demand_m3s": row["base_demand_m3s"],
            },
        }
        for node_id, row in zip(net.nodes.index, net.nodes.to_dict("records"), strict=True)
    ]
    return _obj(_collection(features, limit, offset))


def links_geojson(net: Network, limit: int, offset: int) -> dict[str, Any]:
    """Links as straight GeoJSON lines between their end nodes, with length and diameter (m)."""
    xy = net.nodes[["x", "y"]]
    features = []
    for link_id, row in zip(net.links.index, net.links.to_dict("records"), strict=True):
        a, b = xy.loc[row["start_node"]], xy.loc[row["end_node"]]
        features.append(
            {
                "type": "Feature",
                "id": link_id,
                "geometry": {"type": "LineString", "coordinates": [[a["x"], a["y"]], [b["x"], b["y"]]]},
                "properties": {"id": link_id, **row},
            }
        )
    return _obj(_collection(features, limit, offset))


def dmas_geojson(net: Network, dmas: Sequence[DMA]) -> dict[str, Any]:
    """DMAs: their polygon when the file gives one, else the points of their nodes (MultiPoint)."""
    xy = net.nodes[["x", "y"]]
    features = []
    for d in dmas:
        if d.polygon:
            geometry = {"type": "Polygon", "coordinates": [[list(p) for p in d.polygon]]}
        else:
            points = xy.loc[[n for n in d.nodes if n in xy.index]].to_numpy().tolist()
            geometry = {"type": "MultiPoint", "coordinates": points}
        features.append(
            {
                "type": "Feature",
                "id": d.name,
                "geometry": geometry,
                "properties": {
                    "name": d.name,
                    "description": d.description,
                    "inlets": list(d.inlets),
                    "outlets": list(d.outlets),
                    "connections": d.connections,
                    "mains_length_km": d.mains_length_km,
                    "average_pressure_m": d.average_pressure_m,
                    "nodes": len(d.nodes),
                },
            }
        )
    return _obj(_collection(features, max(len(features), 1), 0))


# --- telemetry --------------------------------------------------------------------------------------
def sensor_list(store: Store, limit: int, offset: int) -> dict[str, Any]:
    """Registered sensors with their SI column name."""
    items = [{**s.__dict__, "column": si_column(s), "quantity": s.quantity} for s in store.sensors()]
    return _obj(page(items, limit, offset))


def read_readings(
    store: Store,
    sensors: str,
    start: str,
    end: str,
    *,
    every: str | None,
    agg: str,
    layout: str,
    limit: int,
    offset: int,
    shown: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Readings, wide (a row per time, a column per sensor) or long (sensor, time, value): in SI, or
    in the display unit ``shown`` gives each sensor's quantity (named in ``columns`` and ``units``)."""
    ids = list(dict.fromkeys(s.strip() for s in sensors.split(",") if s.strip()))
    if not ids:
        raise InputError("give at least one sensor id", field="sensors")
    registry = store.sensors()
    unknown = [s for s in ids if s not in registry]
    if unknown:
        raise NotFoundError(f"unknown sensor '{unknown[0]}'", field="sensors")
    t0, t1 = api_time(start, "from"), api_time(end, "to")
    shown = shown or {}
    units = {s: shown.get(registry[s].quantity) or SI_UNITS.get(registry[s].quantity) for s in ids}
    columns = {
        s: display_column(s, registry[s].quantity, shown[registry[s].quantity])
        if registry[s].quantity in shown
        else si_column(registry[s])
        for s in ids
    }
    head = {"layout": layout, "columns": columns, "units": units}
    if t1 <= t0:  # [from, to) is empty
        return _obj({**head, **page([], limit, offset)})
    wide = store.read(ids, t0, t1, every=every, agg=agg)
    for s in ids:
        if registry[s].quantity in shown and s in wide:
            wide[s] = from_si(wide[s].to_numpy(dtype=float), units[s] or "", registry[s].quantity)
    times = [_iso(t) for t in wide.index]
    if layout == "long":
        values = wide.to_numpy()
        rows, cols = np.nonzero(~np.isnan(values))
        items: list[Any] = [
            {"sensor": ids[c], "time": times[r], "value": float(values[r, c])}
            for r, c in zip(rows.tolist(), cols.tolist(), strict=True)
        ]
    else:
        items = [
            {"time": t, **{columns[s]: v for s, v in zip(ids, vals, strict=True)}}
            for t, vals in zip(times, wide.to_numpy().tolist(), strict=True)
        ]
    return _obj({**head, **page(items, limit, offset)})


def ingest_body(store: Store, body: bytes, content_type: str, *, source: str) -> IngestResult:
    """Validate and store a body of readings: JSON object or array, SenML, or CSV (text/csv).

    A body that cannot be read at all is quarantined as it came and answered with an InputError.
    """
    kind = body_kind(content_type)
    if kind is None:
        media = content_type.split(";", 1)[0].strip().lower()
        raise ApiError(415, f"unsupported content type '{media}'; send JSON, SenML or text/csv")
    return http_ingest.ingest_body(store, body, kind, source=source)


def quarantine_page(store: Store, limit: int, offset: int) -> dict[str, Any]:
    """Quarantined payloads, newest first (a stable order across pages), with the key that names a
    row to release or drop, and the file line where the reading came from."""
    from tirta.telemetry.review import entries

    return _obj(page(entries(store), limit, offset))


# --- leak events ------------------------------------------------------------------------------------
def _summary(event: Event, now: pd.Timestamp) -> dict[str, Any]:
    out = event.to_dict(now)
    out.pop("history")
    out["candidates"] = len(event.candidates)
    return _obj(out)


def event_page(store: Store, status: str | None, limit: int, offset: int) -> dict[str, Any]:
    """Events newest first, without their history (see :func:`event_detail`)."""
    now = store.data_now()  # water lost counts to the latest reading (a replay is not "now")
    return page([_summary(e, now) for e in list_events(store, status)], limit, offset)


def _event(store: Store, event_id: int) -> Event:
    try:
        return get_event(store, event_id)
    except InputError as exc:
        if exc.field == "event_id":
            raise NotFoundError(exc.message, field="event_id") from None
        raise


def event_detail(store: Store, event_id: int) -> dict[str, Any]:
    """An event with its ranked candidate pipes, water lost so far and history (who, when, what)."""
    return _obj(_event(store, event_id).to_dict(store.data_now()))


def event_action(
    store: Store, event_id: int, action: str, *, who: str, note: str | None
) -> dict[str, Any]:
    """Move an event along its lifecycle as ``who``; 409 when the move is not allowed from its status."""
    status = ACTIONS[action]
    current = _event(store, event_id)
    if status not in TRANSITIONS[current.status]:
        allowed = ", ".join(TRANSITIONS[current.status]) or "nothing (final)"
        raise ApiError(
            409,
            f"event {event_id} is '{current.status}' and cannot become '{status}' (allowed: {allowed})",
            field="status",
        )
    try:
        moved = transition(store, event_id, status, who=who, note=note)
    except InputError as exc:
        if exc.field == "status":  # moved by someone else since we read it (compare and set lost)
            raise ApiError(409, exc.message, field="status") from None
        raise
    return _obj(moved.to_dict(store.data_now()))


# --- water balance ----------------------------------------------------------------------------------
def _check_scheme(scheme: str) -> None:
    schemes = band_schemes()
    if scheme not in schemes:
        raise InputError(
            f"unknown banding scheme '{scheme}'; expected one of {', '.join(sorted(schemes))}",
            field="scheme",
        )


def compute_audit(body: bytes, content_type: str, scheme: str) -> dict[str, Any]:
    """Water balance and KPIs of an audit given as AUDIT.toml text or its JSON equivalent."""
    _check_scheme(scheme)
    kind = content_type.split(";", 1)[0].strip().lower()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("the audit is not UTF-8 text", field="body") from None
    if kind in ("application/json", ""):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON: {exc.msg}", line=exc.lineno, field="body") from None
        if not isinstance(doc, dict):
            raise InputError("expected a JSON object with system, volumes and costs", field="body")
    elif kind in ("application/toml", "text/plain", "text/x-toml"):
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"not valid TOML: {exc}", field="body") from None
    else:
        raise ApiError(415, f"unsupported content type '{kind}'; send application/toml or JSON")
    audit = parse_audit(doc)  # each value checked: 400 naming the key
    try:
        return _obj(audit_report(run_audit(audit, scheme)))
    except InputError as exc:  # values that contradict each other
        raise inconsistent(exc) from None


def dma_report(
    store: Store,
    model: tuple[Network, list[DMA]],
    name: str,
    start: str,
    end: str,
    scheme: str,
    billing: Billing | None = None,
) -> dict[str, Any]:
    """Monthly and period water balance of a DMA from the store (consumption from ``billing``, else
    the AMR meters), with its night-flow leakage."""
    _check_scheme(scheme)
    try:
        t0, t1 = parse_month_range(start, end)
    except InputError as exc:
        if "before" not in exc.message:
            raise
        raise inconsistent(exc) from None
    net, dmas = model
    if name not in {d.name for d in dmas}:
        raise NotFoundError(
            f"unknown DMA '{name}'; expected one of {', '.join(sorted(d.name for d in dmas))}",
            field="name",
        )
    zone = resolve_zone(name, dmas, store.sensors(), net)
    try:
        result = dma_balance(store, zone, t0, t1, billing=billing, options=BalanceOptions(scheme=scheme))
    except InputError as exc:  # no readings in the period: that balance does not exist
        if exc.field != "--from":
            raise
        raise NotFoundError(exc.message, field="from") from None
    return _obj(dma_balance_report(result))


def public_kpis(store: Store, audit_file: Any) -> dict[str, Any]:
    """The transparency figures: NRW %, real losses (published audit), open network leaks (not the
    customer-side events, which concern one household each); no personal data."""
    active = [e for e in list_events(store, kind="leak") if e.status in ACTIVE]
    now = store.data_now()
    out: dict[str, Any] = {
        "open_leaks": len(active),
        "open_leaks_water_lost_m3": round(sum(e.water_lost_m3(now) for e in active), 1),
        "nrw_pct": None,
        "real_losses_m3": None,
        "real_losses_l_per_conn_day": None,
        "ili": None,
        "period_days": None,
        "source": None,
        "withheld": {},
    }
    if audit_file is not None:
        try:
            report = audit_report(run_audit(load_audit(audit_file)))
        except TirtaError as exc:  # the public page shows no server paths; the log has the cause
            log.warning("public KPIs: the audit file cannot be used: %s", exc)
            return _obj({**out, "source": "audit unavailable"})
        flags = report["kpi_warnings"]
        shown = {
            "nrw_pct": "nrw_pct",
            "real_losses_m3": "real_losses",
            "real_losses_l_per_conn_day": "real_losses_l_per_conn_day",
            "ili": "ili",
        }
        for key, kpi in shown.items():  # a KPI failing a sanity check is withheld, with the reason
            out[key] = None if kpi in flags else report[kpi]
        out.update(
            period_days=report["period_days"],
            source="published water audit",
            withheld={kpi: flags[kpi] for kpi in shown.values() if kpi in flags},
        )
    return _obj(out)
