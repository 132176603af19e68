"""Leak events on both stores: lifecycle, invalid moves, updates as history, water lost, proposals."""

from __future__ import annotations

import pandas as pd
import pytest

from tirta.errors import InputError
from tirta.leaks.events import (
    TRANSITIONS,
    get_event,
    list_events,
    open_event,
    propose_close,
    transition,
    update_event,
)
from tirta.telemetry.store import Store

T0 = pd.Timestamp("2021-01-09 15:50", tz="UTC")
CANDS = [
    {"pipe": "p780", "score": 0.6, "size_lps": 5.1},
    {"pipe": "p779", "score": 0.3, "size_lps": 5.0},
]


def _open(store: Store) -> int:
    return open_event(
        store,
        detected_at=T0 + pd.Timedelta(minutes=40),
        start=T0,
        size_lps=5.0,
        candidates=CANDS,
        dma="A",
        zone="zone:p227+p235",
        radius_m=120.0,
    )


def test_full_lifecycle_with_who_when_note_and_water_lost(store: Store) -> None:
    eid = _open(store)
    e = get_event(store, eid)
    assert (e.status, e.pipe, e.dma, e.zone, e.radius_m) == (
        "open",
        "p780",
        "A",
        "zone:p227+p235",
        120.0,
    )
    steps = [
        ("acknowledged", "ana", "seen on the dashboard", T0 + pd.Timedelta(hours=2)),
        ("dispatched", "ana", "crew 3", T0 + pd.Timedelta(hours=3)),
        ("repaired", "crew 3", "clamp on p779", T0 + pd.Timedelta(hours=10)),
        ("closed", "ana", None, T0 + pd.Timedelta(hours=30)),
    ]
    for status, who, note, at in steps:
        e = transition(store, eid, status, who=who, note=note, at=at)
        assert e.status == status
    hist = e.history
    assert list(hist["status"]) == ["open", "acknowledged", "dispatched", "repaired", "closed"]
    assert list(hist["who"]) == ["tirta", "ana", "ana", "crew 3", "ana"]
    assert hist["note"].iloc[3] == "clamp on p779"
    assert pd.Timestamp(hist["at"].iloc[2]) == T0 + pd.Timedelta(hours=3)
    # 5 L/s from the start to the repair (10 h), not to the close
    assert e.repaired_at == T0 + pd.Timedelta(hours=10)
    assert e.water_lost_m3() == pytest.approx(5.0e-3 * 10 * 3600)
    assert [x.id for x in list_events(store, "closed")] == [eid]
    assert list_events(store, "open") == []


def test_water_lost_grows_until_repaired_and_false_alarm_lost_nothing(store: Store) -> None:
    eid = _open(store)
    e = get_event(store, eid)
    assert e.water_lost_m3(T0 + pd.Timedelta(hours=2)) == pytest.approx(36.0)
    assert e.water_lost_m3(T0 + pd.Timedelta(hours=4)) == pytest.approx(72.0)
    e = transition(store, eid, "false_alarm", who="ana", note="night filling of a pool")
    assert e.status == "false_alarm" and e.water_lost_m3() == 0.0


@pytest.mark.parametrize(
    ("path", "wrong"),
    [
        ([], "dispatched"),
        ([], "repaired"),
        ([], "closed"),
        (["acknowledged"], "closed"),
        (["acknowledged", "dispatched"], "acknowledged"),
        (["acknowledged", "dispatched", "repaired"], "false_alarm"),
        (["false_alarm"], "open"),
        (["acknowledged", "dispatched", "repaired", "closed"], "open"),
    ],
)
def test_invalid_transition_names_current_and_requested(store: Store, path, wrong) -> None:
    eid = _open(store)
    for status in path:
        transition(store, eid, status, who="ana")
    current = path[-1] if path else "open"
    with pytest.raises(InputError) as err:
        transition(store, eid, wrong, who="ana")
    assert f"'{current}'" in str(err.value) and f"'{wrong}'" in str(err.value)
    assert get_event(store, eid).status == current
    assert len(store.event_history(eid)) == 1 + len(path)  # nothing written


def test_transition_checks_status_who_time_and_id(store: Store) -> None:
    eid = _open(store)
    with pytest.raises(InputError, match="unknown event status 'fixed'"):
        transition(store, eid, "fixed", who="ana")
    with pytest.raises(InputError, match="who"):
        transition(store, eid, "acknowledged", who=" ")
    with pytest.raises(InputError, match="reserved"):
        transition(store, eid, "acknowledged", who="tirta")
    with pytest.raises(InputError, match="before the event's previous step"):
        transition(store, eid, "acknowledged", who="ana", at=T0 - pd.Timedelta(days=1))
    with pytest.raises(InputError, match="no event with id 999"):
        transition(store, 999, "acknowledged", who="ana")
    assert set(TRANSITIONS) == {
        "open",
        "acknowledged",
        "dispatched",
        "repaired",
        "closed",
        "false_alarm",
    }


def test_updates_are_history_rows_folded_into_the_event(store: Store) -> None:
    eid = _open(store)
    e = get_event(store, eid)
    at = T0 + pd.Timedelta(hours=5)
    new = [{"pipe": "p779", "score": 0.8, "size_lps": 6.0}]
    assert update_event(store, e, at=at, size_lps=6.0, candidates=new, start=T0 - pd.Timedelta(hours=1))
    e = get_event(store, eid)
    assert (e.size_lps, e.pipe, e.status) == (6.0, "p779", "open")
    assert e.start == T0 - pd.Timedelta(hours=1)
    assert e.zone == "zone:p227+p235"  # kept from the detection
    # the same values again: nothing written
    assert not update_event(store, e, at=at, size_lps=6.0, candidates=new)
    assert len(store.event_history(eid)) == 2
    # the raw store row is untouched; the listing folds the update in
    assert store.events().iloc[0]["size_lps"] == 5.0
    assert list_events(store)[0].size_lps == 6.0
    # a person's status change keeps tirta's estimates
    e = transition(store, eid, "acknowledged", who="ana", note='[update] {"size_lps": 99}')
    assert e.size_lps == 6.0


def test_close_proposal_is_a_flag_until_someone_closes(store: Store) -> None:
    eid = _open(store)
    assert not propose_close(store, get_event(store, eid), at=T0, reason="x")  # only when repaired
    for status in ("acknowledged", "dispatched", "repaired"):
        transition(store, eid, status, who="crew", at=T0 + pd.Timedelta(hours=4))
    e = get_event(store, eid)
    assert e.close_proposed is None
    at = T0 + pd.Timedelta(hours=9)
    assert propose_close(store, e, at=at, reason="residual back to baseline", after=0.1)
    e = get_event(store, eid)
    assert e.status == "repaired" and "residual back to baseline" in e.close_proposed
    assert not propose_close(store, e, at=at, reason="again")  # once
    e = transition(store, eid, "closed", who="ana", note="agreed")
    assert e.close_proposed is None and e.status == "closed"
    assert e.to_dict()["history"][-2]["note"].startswith("[propose-close]")


def test_new_estimates_from_a_stale_read_never_undo_an_operator_move(tmp_path):
    """Detection read the event while open; an operator acknowledged it; the update keeps
    'acknowledged' (seen in the live demo: the status flipped back under the operator's buttons)."""
    import pandas as pd

    from tirta.leaks.events import get_event, open_event, transition, update_event
    from tirta.telemetry.store import open_store

    with open_store(f"duckdb:///{tmp_path / 's.duckdb'}") as store:
        t = pd.Timestamp("2021-01-09 05:00", tz="UTC")
        eid = open_event(store, detected_at=t, start=t, size_lps=5.0, candidates=[], dma="A")
        stale = get_event(store, eid)
        transition(store, eid, "acknowledged", who="ana", at=t + pd.Timedelta(minutes=5))
        assert update_event(store, stale, at=t + pd.Timedelta(minutes=6), size_lps=6.0)
        event = get_event(store, eid)
        assert event.status == "acknowledged" and event.size_lps == 6.0
