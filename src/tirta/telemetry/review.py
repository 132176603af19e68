"""Quarantine review: see rejected readings, release them after a fix (re-validated), or drop them.

Releasing goes through the same validation as any reading, under the row's original source: a
reading that now passes is stored; one that fails for another reason stays quarantined under that
reason; one that fails for the same reason stays where it is. A row is deleted only after its
reading was stored or re-quarantined, so a crash never loses it. Every action is audited in the
store's records (kind ``quarantine.audit``): who, when, why, what became of each row.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import pandas as pd

from tirta.errors import InputError
from tirta.telemetry.ingest.records import ingest_records
from tirta.telemetry.store.base import Store

__all__ = ["AUDIT", "ReviewResult", "audit_log", "drop", "entries", "release"]

AUDIT: Final = "quarantine.audit"
_LINE = re.compile(r"\bline (\d+)")


@dataclass
class ReviewResult:
    """What a release or drop did: rows stored, still failing (and why), not releasable, dropped."""

    action: str
    stored: int = 0
    still_failing: dict[str, int] = field(default_factory=dict)
    not_releasable: int = 0
    dropped: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "stored": self.stored,
            "still_failing": self.still_failing,
            "not_releasable": self.not_releasable,
            "dropped": self.dropped,
        }


def _payload(text: Any) -> dict[str, Any] | None:
    try:
        parsed = json.loads(text) if isinstance(text, str) else None
    except json.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _line(payload: dict[str, Any] | None, detail: Any) -> int | None:
    if payload is not None and str(payload.get("line", "")).isdigit():
        return int(payload["line"])
    found = _LINE.search(str(detail or ""))
    return int(found.group(1)) if found else None


def entries(
    store: Store, *, reason: str | None = None, sensor: str | None = None, source: str | None = None
) -> list[dict[str, Any]]:
    """Quarantined readings with their key, reason, source, sensor, raw payload and file line."""
    frame = store.quarantine_entries(reason=reason, sensor=sensor, source=source)
    out = []
    for row in frame.to_dict("records"):
        payload = _payload(row["payload"])
        out.append(
            {
                "key": row["key"],
                "reason": row["reason"],
                "detail": row["detail"],
                "source": row["source"],
                "sensor": row["sensor"] or None,
                "payload": row["payload"],
                "line": _line(payload, row["detail"]),
                "received_at": pd.Timestamp(row["received_at"]).isoformat(),
                "times_seen": int(row["times_seen"]),
            }
        )
    return out


def _select(
    store: Store, keys: Sequence[str] | None, reason: str | None, sensor: str | None
) -> pd.DataFrame:
    if not keys and reason is None and sensor is None:
        raise InputError("name the rows: give keys, or --reason and/or --sensor", field="keys")
    frame = store.quarantine_entries(reason=reason, sensor=sensor, keys=list(keys) if keys else None)
    if keys:
        missing = set(keys) - set(frame["key"])
        if missing:
            raise InputError(f"no quarantined row with key {sorted(missing)[0]!r}", field="keys")
    return frame


def _audit(
    store: Store, action: str, who: str, note: str | None, rows: pd.DataFrame, outcome: dict[str, str]
) -> None:
    now = pd.Timestamp.now(tz="UTC")
    for row in rows.to_dict("records"):
        store.put_record(
            AUDIT,
            f"{now.isoformat()}|{row['key']}",
            {
                "action": action,
                "who": who,
                "note": note,
                "at": now.isoformat(),
                "key": row["key"],
                "reason": row["reason"],
                "sensor": row["sensor"],
                "source": row["source"],
                "outcome": outcome.get(row["key"], action),
            },
        )


def release(
    store: Store,
    keys: Sequence[str] | None = None,
    *,
    reason: str | None = None,
    sensor: str | None = None,
    who: str,
    note: str | None = None,
) -> ReviewResult:
    """Re-validate quarantined readings (after fixing a sensor's registration or unit, say)."""
    rows = _select(store, keys, reason, sensor)
    result = ReviewResult("release")
    outcome: dict[str, str] = {}
    seen_before = dict(zip(rows["key"], rows["times_seen"], strict=True))
    releasable: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for row in rows.to_dict("records"):
        payload = _payload(row["payload"])
        if payload is None or not {"sensor", "time", "value"} <= set(payload):
            result.not_releasable += 1
            outcome[row["key"]] = (
                "not releasable: not a single reading; fix the source and ingest it again"
            )
            continue
        record = {k: payload.get(k) for k in ("sensor", "time", "value", "unit")}
        releasable.setdefault(str(row["source"]), []).append((str(row["key"]), record))
    for source, items in releasable.items():
        got = ingest_records(store, [rec for _, rec in items], source=source)
        result.stored += got.accepted + got.duplicate
        for why, n in got.reasons.items():
            result.still_failing[why] = result.still_failing.get(why, 0) + n
    store.flush()
    after = store.quarantine_entries(keys=[k for items in releasable.values() for k, _ in items])
    again = dict(zip(after["key"], after["times_seen"], strict=True))
    done: list[str] = []
    for items in releasable.values():
        for key, _ in items:
            if again.get(key, 0) > seen_before[key]:  # failed again, for the same reason: it stays
                outcome[key] = "still failing: " + str(rows.loc[rows["key"] == key, "reason"].iloc[0])
            else:  # stored, or quarantined again under another reason: this row has served
                done.append(key)
                outcome[key] = "re-validated"
    result.dropped = store.drop_quarantine(done)
    _audit(store, "release", who, note, rows, outcome)
    return result


def drop(
    store: Store,
    keys: Sequence[str] | None = None,
    *,
    reason: str | None = None,
    sensor: str | None = None,
    who: str,
    note: str | None = None,
) -> ReviewResult:
    """Delete quarantined readings for good (audited with who and why)."""
    rows = _select(store, keys, reason, sensor)
    _audit(store, "drop", who, note, rows, {})
    return ReviewResult("drop", dropped=store.drop_quarantine(list(rows["key"])))


def audit_log(store: Store) -> list[dict[str, Any]]:
    """Every release and drop, newest first."""
    return [rec.value for rec in store.records(AUDIT)]
