"""Effluent breaches as events: each exceedance of a plant's standard opens one event in the store's
event tables, with the leak events' lifecycle (open → acknowledged → dispatched → repaired → closed, or
false alarm) and history, so operators follow it with the same commands, API and pages.

The breach (plant, sample, parameter, value, limit, standard) rides in the event's first history note;
re-judging the same lab file opens nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import pandas as pd

from tirta.leaks.events import Event, list_events, open_event
from tirta.telemetry.store.base import Store
from tirta.wastewater.compliance import ComplianceResult

__all__ = ["BREACH", "Breach", "breach_events", "open_breach_events"]

BREACH: Final = "effluent_breach"


@dataclass(frozen=True)
class Breach:
    """An effluent breach event: the event (status, history) and what was breached."""

    event: Event
    plant: str
    sample: str
    parameter: str
    value: float
    limit: float
    standard: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view: id, status, the breach and the event's history."""
        base = self.event.to_dict()
        return {
            "id": self.event.id,
            "status": self.event.status,
            "detected_at": base["detected_at"],
            "plant": self.plant,
            "sample": self.sample,
            "parameter": self.parameter,
            "value": self.value,
            "limit": self.limit,
            "standard": self.standard,
            "history": base["history"],
        }


def breach_events(store: Store, plant: str | None = None, status: str | None = None) -> list[Breach]:
    """Breach events (newest first), of one plant when given, optionally in one status."""
    out = []
    for event in list_events(store, status, kind=BREACH):
        d = event.details
        if plant is not None and d.get("plant") != plant:
            continue
        out.append(
            Breach(
                event=event,
                plant=str(d.get("plant")),
                sample=str(d.get("sample")),
                parameter=str(d.get("parameter")),
                value=float(d.get("value", float("nan"))),
                limit=float(d.get("limit", float("nan"))),
                standard=str(d.get("standard")),
            )
        )
    return out


def open_breach_events(store: Store, plant: str, result: ComplianceResult) -> list[int]:
    """Open an event for each exceedance of ``result`` that has none yet; return the new event ids."""
    known = {(b.sample, b.parameter) for b in breach_events(store, plant)}
    opened = []
    for r in result.exceedances().to_dict("records"):
        key = (str(r["sample"]), str(r["parameter"]))
        if key in known:
            continue
        when = pd.Timestamp(r["time"])
        opened.append(
            open_event(
                store,
                detected_at=when,
                start=when,
                size_lps=None,
                candidates=[],
                dma=None,
                extra={
                    "kind": BREACH,
                    "plant": plant,
                    "sample": key[0],
                    "parameter": key[1],
                    "value": float(r["value"]),
                    "limit": float(r["limit"]),
                    "standard": result.standard.id,
                },
            )
        )
        known.add(key)
    return opened
