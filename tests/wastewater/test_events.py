"""Effluent breaches open events in the store's event tables with the leak events' lifecycle; leak lists
stay leak-only; re-judging the same lab file opens nothing new."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from tirta.cli import main
from tirta.leaks.events import list_events, open_event, transition
from tirta.telemetry.store import open_store

PLANTS = '[[plant]]\nid = "bojong"\ndesign_flow_m3_d = 2000\ndesign_bod_kg_d = 400\nlab = "lab.csv"\n'
LAB = (
    "sample,time,point,parameter,value,unit\n"
    "a,2026-04-10T09:00,effluent,COD,100,mg/L\n"  # at the limit: no event
    "b,2026-05-12T09:00,effluent,COD,120,mg/L\n"
    "b,2026-05-12T09:00,effluent,pH,5.5,-\n"
)


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out):
        try:
            main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue()


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.service)])
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, str]:
    """The registry and lab file, and an empty store of each backend."""
    (tmp_path / "plants.toml").write_text(PLANTS, encoding="utf-8")
    (tmp_path / "lab.csv").write_text(LAB, encoding="utf-8")
    if request.param == "postgres":
        return tmp_path / "plants.toml", str(request.getfixturevalue("postgres_db"))
    return tmp_path / "plants.toml", f"duckdb:///{tmp_path / 'store.duckdb'}"


def test_breaches_open_events_once_and_follow_the_leak_lifecycle(setup):
    plants, url = setup
    with open_store(url) as store:  # a leak already in the store stays a leak
        leak = open_event(store, detected_at="2026-05-01T00:00Z", start=None, size_lps=2.0,
                          candidates=[{"pipe": "p1", "score": 1.0}], dma="A")  # fmt: skip
    code, out = run("plant", "events", str(plants), "bojong", "--store", url, "--json")
    assert code == 0
    answer = json.loads(out)
    assert len(answer["opened"]) == 2
    got = {(e["sample"], e["parameter"]): e for e in answer["events"]}
    assert set(got) == {("b", "COD"), ("b", "pH")}
    assert got[("b", "COD")]["value"] == 120.0 and got[("b", "COD")]["limit"] == 100.0
    assert got[("b", "pH")]["limit"] == 6.0 and got[("b", "COD")]["status"] == "open"
    assert got[("b", "COD")]["standard"] == "id-p68-2016"
    # the same lab file again: nothing new
    assert (
        json.loads(run("plant", "events", str(plants), "bojong", "--store", url, "--json")[1])["opened"]
        == []
    )
    event_id = got[("b", "COD")]["id"]
    # the leak commands move a breach event along the same lifecycle
    assert run("leaks", "ack", str(event_id), "--who", "ana", "--store", url)[0] == 0
    with open_store(url) as store:
        assert [e.id for e in list_events(store)] == [leak]  # leak lists do not show breaches
        event = transition(store, event_id, "dispatched", who="ana", note="aeration blower checked")
        assert event.status == "dispatched" and event.kind == "effluent_breach"
        with pytest.raises(Exception, match="cannot become 'open'"):
            transition(store, event_id, "open", who="ana")
    final = json.loads(run("plant", "events", str(plants), "bojong", "--store", url, "--json")[1])
    statuses = {e["id"]: e["status"] for e in final["events"]}
    assert statuses[event_id] == "dispatched"
    history = next(e for e in final["events"] if e["id"] == event_id)["history"]
    assert [h["status"] for h in history] == ["open", "acknowledged", "dispatched"]
