"""Two ``tirta serve`` processes on one store: the nightly balance of a period is computed once.

Each server's BalanceJob claims the period in the store first (a record written only if new); the
other finds the claim and skips, naming who computed it; a claim left by a server that died (older
than an hour, no result) is taken over."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from tirta.network import load_dmas, load_network
from tirta.network.model import builtin_network_path
from tirta.server.jobs import CLAIM_KIND, Analytics, BalanceJob
from tirta.telemetry.store import open_store

LTOWN = builtin_network_path("l-town")
NOW = pd.Timestamp("2021-01-04T03:00Z")


def _own_copy(stores: dict[str, Any], tmp_path: Path) -> str:
    """A copy of the session's leak-free store, so that claims and results start from nothing."""
    src = Path(stores["leak_free"].removeprefix("duckdb:///"))
    shutil.copy(src, tmp_path / "store.duckdb")
    return f"duckdb:///{tmp_path / 'store.duckdb'}"


def _job(store: Any, now: pd.Timestamp = NOW) -> BalanceJob:
    net = load_network(LTOWN)
    dmas = load_dmas(LTOWN.with_name("L-TOWN.dmas.toml"), net)
    return BalanceJob(store, net, dmas, lambda: now, Analytics(store=store), days=3.0)


def test_two_servers_compute_a_night_once(ltown_stores: dict[str, Any], tmp_path: Path) -> None:
    with open_store(_own_copy(ltown_stores, tmp_path)) as store:
        first, second = _job(store), _job(store)
        done = first()
        assert done["dmas"], done
        again = second()
        assert "skipped" in again and "computed by" in again["skipped"], again
        assert again["period"] == done["period"]
        assert second.analytics.balance() == first.analytics.balance()  # both answer with the same


def test_a_fresh_claim_is_left_alone_and_a_stale_one_taken_over(
    ltown_stores: dict[str, Any], tmp_path: Path
) -> None:
    with open_store(_own_copy(ltown_stores, tmp_path)) as store:
        end = NOW.normalize()
        key = f"nightly_balance:{end.isoformat()}"
        now = pd.Timestamp.now(tz="UTC")
        store.put_record(CLAIM_KIND, key, {"by": "other:1", "at": now.isoformat()})
        busy = _job(store)()
        assert "being computed by other:1" in busy["skipped"], busy
        store.put_record(
            CLAIM_KIND, key, {"by": "other:1", "at": (now - pd.Timedelta(hours=2)).isoformat()}
        )
        taken = _job(store)()
        assert "skipped" not in taken and taken["dmas"], taken
        claim = store.get_record(CLAIM_KIND, key)
        assert claim is not None and claim.value["by"] != "other:1"
