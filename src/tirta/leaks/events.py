"""Leak events: open one per new leak, follow it from open to closed, and count the water it lost.

An event lives in the store's ``events`` and ``event_history`` tables. The store records a status
change with who, when and a note; it has no update of an event's size or candidates, so tirta writes
its own updates and proposals as history rows that keep the status and carry a tagged JSON note
(``[update] {...}``, ``[detected] {...}``, ``[propose-close] {...}``). :func:`get_event` folds them
back into the event, and the history stays one audit trail of everything that happened.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import pandas as pd

from tirta.errors import InputError
from tirta.hydraulics.customers import CUSTOMER_EVENT_KINDS
from tirta.telemetry.store.base import EVENT_STATUSES, Store

__all__ = [
    "ACTIVE",
    "SYSTEM",
    "TRANSITIONS",
    "Event",
    "get_event",
    "list_events",
    "open_event",
    "propose_close",
    "transition",
    "update_event",
    "water_lost_m3",
]

SYSTEM = "tirta"  # who tirta's own history rows are written by
ACTIVE = ("open", "acknowledged", "dispatched")  # a leak still running: new alarms update these
#: allowed moves; ``false_alarm`` ends an event the crew found no leak for
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "open": ("acknowledged", "false_alarm"),
    "acknowledged": ("dispatched", "false_alarm"),
    "dispatched": ("repaired", "false_alarm"),
    "repaired": ("closed",),
    "closed": (),
    "false_alarm": (),
}
_TAGS = ("detected", "update", "propose-close")


@dataclass(frozen=True)
class Event:
    """A leak event as it stands now: size (L/s), ranked candidate pipes (the chosen one first),
    its zone or DMA, the status, when it was repaired, a pending close proposal and the history."""

    id: int
    status: str
    detected_at: pd.Timestamp
    start: pd.Timestamp | None
    size_lps: float | None
    candidates: list[dict[str, Any]]
    dma: str | None
    zone: str | None = None
    radius_m: float | None = None
    repaired_at: pd.Timestamp | None = None
    close_proposed: str | None = None  # the note of tirta's proposal to close, while it stands
    kind: str = "leak"  # "leak" (network), a customer-side kind ("customer_leak", "stopped", …) or
    # another domain's that shares the lifecycle ("effluent_breach" of a plant)
    customer: dict[str, Any] | None = None  # customer id, node, loss m³/day and its cost
    details: dict[str, Any] = field(default_factory=dict, compare=False)  # what opened it, as recorded
    history: pd.DataFrame = field(default_factory=pd.DataFrame, compare=False, repr=False)

    @property
    def pipe(self) -> str | None:
        """The most likely leak pipe."""
        return str(self.candidates[0]["pipe"]) if self.candidates else None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    def water_lost_m3(self, now: pd.Timestamp | None = None) -> float:
        """See :func:`water_lost_m3`."""
        return water_lost_m3(self, now)

    def to_dict(self, now: pd.Timestamp | None = None) -> dict[str, Any]:
        """JSON-ready view with the water lost so far (m³) and the history."""

        def iso(ts: pd.Timestamp | None) -> str | None:
            return None if ts is None else ts.strftime("%Y-%m-%dT%H:%M:%SZ")

        history = [
            {
                "at": iso(pd.Timestamp(r["at"])),
                "who": r["who"],
                "status": r["status"],
                "note": r["note"] if isinstance(r["note"], str) else None,
            }
            for r in self.history.to_dict("records")
        ]
        return {
            "id": self.id,
            "status": self.status,
            "detected_at": iso(self.detected_at),
            "start": iso(self.start),
            "size_lps": self.size_lps,
            "pipe": self.pipe,
            "radius_m": self.radius_m,
            "dma": self.dma,
            "zone": self.zone,
            "repaired_at": iso(self.repaired_at),
            "water_lost_m3": round(self.water_lost_m3(now), 3),
            "close_proposed": self.close_proposed,
            "kind": self.kind,
            "customer": self.customer,
            "candidates": self.candidates,
            "history": history,
        }


def _tagged(tag: str, payload: dict[str, Any], text: str = "") -> str:
    return f"[{tag}] {json.dumps(payload, sort_keys=True)}" + (f" {text}" if text else "")


def _untag(note: Any) -> tuple[str, dict[str, Any]] | None:
    """(tag, payload) of one of tirta's notes, None for a person's note."""
    if not isinstance(note, str) or not note.startswith("["):
        return None
    tag, _, rest = note[1:].partition("] ")
    if tag not in _TAGS:
        return None
    try:
        payload, _ = json.JSONDecoder().raw_decode(rest)
    except ValueError:
        return None
    return (tag, payload) if isinstance(payload, dict) else None


WATER_LOSS: Final = "water-loss"  # list_events: network leaks and customer-side events


def _ts(value: Any) -> pd.Timestamp | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    ts = pd.Timestamp(value)
    if ts is pd.NaT:
        return None
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _fold(row: dict[str, Any], history: pd.DataFrame) -> Event:
    """The event row with tirta's updates from the history applied in order."""
    size = row["size_lps"]
    state: dict[str, Any] = {
        "start": _ts(row["start"]),
        "size_lps": None if size is None or pd.isna(size) else float(size),
        "candidates": list(row["candidates"]),
        "zone": None,
        "radius_m": None,
        "detected_at": _ts(row["detected_at"]),
        "kind": "leak",
        "details": {},
        "customer": None,
    }
    repaired_at = None
    proposal = None
    history = history.reset_index(drop=True)
    if len(history):
        history["at"] = pd.to_datetime(history["at"], utc=True)
    for rec in history.to_dict("records"):
        parsed = _untag(rec["note"]) if rec["who"] == SYSTEM else None
        if parsed is not None and parsed[0] in ("detected", "update"):
            p = parsed[1]
            for key in ("size_lps", "candidates", "zone", "radius_m", "kind", "customer"):
                if key in p:
                    state[key] = p[key]
            for key in ("start", "detected_at"):
                if p.get(key):
                    state[key] = _ts(p[key])
            if parsed[0] == "detected":
                state["kind"] = str(p.get("kind") or "leak")
                state["details"] = dict(p)
        elif parsed is not None and parsed[0] == "propose-close":
            proposal = rec["note"]
        if rec["status"] == "repaired" and repaired_at is None:
            repaired_at = _ts(rec["at"])
    if row["status"] != "repaired":
        proposal = None  # a proposal stands only until someone closes the event
    return Event(
        id=int(row["id"]),
        status=str(row["status"]),
        detected_at=state["detected_at"],
        start=state["start"],
        size_lps=state["size_lps"],
        candidates=state["candidates"],
        dma=None if row["dma"] is None or pd.isna(row["dma"]) else str(row["dma"]),
        zone=state["zone"],
        radius_m=state["radius_m"],
        repaired_at=repaired_at,
        close_proposed=proposal,
        kind=str(state["kind"] or "leak"),
        customer=state["customer"],
        details=state["details"],
        history=history,
    )


def list_events(store: Store, status: str | None = None, kind: str | None = WATER_LOSS) -> list[Event]:
    """Events (newest first) with tirta's updates applied; ``status`` filters on the current one,
    ``kind`` on what they are about: by default water losses (network leaks and customer-side
    events), else one kind (another domain's, such as a plant's "effluent_breach"), or None for all."""
    frame = store.events(status)
    events = [_fold(rec, store.event_history(int(rec["id"]))) for rec in frame.to_dict("records")]
    if kind is None:
        return events
    if kind == WATER_LOSS:
        return [e for e in events if e.kind == "leak" or e.kind in CUSTOMER_EVENT_KINDS]
    return [e for e in events if e.kind == kind]


def get_event(store: Store, event_id: int) -> Event:
    """One event with its history; :class:`InputError` when there is none with this id."""
    frame = store.events()
    rows = frame[frame["id"] == int(event_id)]
    if rows.empty:
        raise InputError(f"no event with id {event_id}", field="event_id")
    return _fold(rows.iloc[0].to_dict(), store.event_history(int(event_id)))


def open_event(
    store: Store,
    *,
    detected_at: pd.Timestamp,
    start: pd.Timestamp | None,
    size_lps: float | None,
    candidates: Sequence[dict[str, Any]],
    dma: str | None,
    zone: str | None = None,
    radius_m: float | None = None,
    extra: dict[str, Any] | None = None,
) -> int:
    """Open an event (size L/s, candidates ranked, the chosen pipe first); return its id."""
    meta = {"zone": zone, "radius_m": radius_m, **(extra or {})}
    return store.add_event(
        detected_at=detected_at,
        start=start,
        size_lps=size_lps,
        candidates=list(candidates),
        dma=dma,
        who=SYSTEM,
        note=_tagged("detected", meta),
    )


def update_event(
    store: Store, event: Event, *, at: pd.Timestamp, note: str = "", **changes: Any
) -> bool:
    """Record new estimates (size_lps, candidates, start, radius_m …) of an event as a history row.

    Returns False and writes nothing when no value changes (re-runs over the same data).
    """
    current = {
        "size_lps": event.size_lps,
        "candidates": event.candidates,
        "radius_m": event.radius_m,
        "zone": event.zone,
        "start": None if event.start is None else event.start.isoformat(),
        "detected_at": event.detected_at.isoformat(),
    }
    payload = {}
    for key, value in changes.items():
        if isinstance(value, pd.Timestamp):
            value = value.tz_convert("UTC").isoformat()
        if not _same(current.get(key), value):
            payload[key] = value
    if not payload:
        return False
    # status None: keep the status the event has at write time (an operator may have moved it)
    store.set_event_status(event.id, None, who=SYSTEM, note=_tagged("update", payload, note), at=at)
    return True


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)
    return bool(json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str))


def transition(
    store: Store,
    event_id: int,
    status: str,
    *,
    who: str,
    note: str | None = None,
    at: pd.Timestamp | str | None = None,
) -> Event:
    """Move an event one step along its lifecycle; :class:`InputError` for a move not allowed."""
    if status not in EVENT_STATUSES:
        raise InputError(
            f"unknown event status '{status}'; expected one of {EVENT_STATUSES}", field="status"
        )
    if not who.strip():
        raise InputError("say who acts on the event", field="who")
    if who == SYSTEM:
        raise InputError(f"'{SYSTEM}' is reserved for tirta's own entries", field="who")
    event = get_event(store, event_id)
    if status not in TRANSITIONS[event.status]:
        allowed = ", ".join(TRANSITIONS[event.status]) or "nothing (final)"
        raise InputError(
            f"event {event_id} is '{event.status}' and cannot become '{status}' (allowed: {allowed})",
            field="status",
        )
    when = _ts(at) if at is not None else None
    steps = event.history[(event.history["who"] != SYSTEM) | (event.history.index == 0)]
    if when is not None and len(steps) and when < steps["at"].max():
        raise InputError(f"time {when:%Y-%m-%d %H:%M} is before the event's previous step", field="at")
    store.set_event_status(event.id, status, who=who, note=note, at=when, expected=event.status)
    return get_event(store, event_id)


def propose_close(store: Store, event: Event, *, at: pd.Timestamp, reason: str, **facts: Any) -> bool:
    """Record tirta's proposal to close a repaired event (not a close); False if already standing."""
    if event.status != "repaired" or event.close_proposed is not None:
        return False
    try:
        store.set_event_status(
            event.id, "repaired", who=SYSTEM, note=_tagged("propose-close", facts, reason), at=at,
            expected="repaired",
        )  # fmt: skip
    except InputError as exc:
        if exc.field == "status":  # closed meanwhile: nothing to propose
            return False
        raise
    return True


def water_lost_m3(event: Event, now: pd.Timestamp | None = None) -> float:
    """Water lost so far (m³): size × time from the estimated start to the repair, or to ``now``.

    A false alarm lost nothing; an event without a size counts zero.
    """
    if event.status == "false_alarm" or event.size_lps is None:
        return 0.0
    begin = event.start or event.detected_at
    end = event.repaired_at or _ts(now) or pd.Timestamp.now(tz="UTC")
    seconds = max((end - begin).total_seconds(), 0.0)
    return event.size_lps / 1000.0 * seconds
