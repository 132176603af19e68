"""Records: small JSON state in the store (both backends), written, claimed once, listed, deleted,
and seen by a second connection to the same store (two server processes share it)."""

from __future__ import annotations

import threading

from tirta.telemetry.store import Store, open_store


def test_put_get_list_delete(store: Store) -> None:
    assert store.get_record("job", "detect") is None
    assert store.put_record("job", "detect", {"last_run": "2024-01-01T00:00:00Z", "ok": True})
    assert store.put_record("job", "nightly", {"ok": False, "error": "no data"})
    assert store.put_record("job", "detect", {"ok": False})  # replaces
    got = store.get_record("job", "detect")
    assert got is not None and got.value == {"ok": False} and str(got.updated_at.tz) == "UTC"
    assert [r.key for r in store.records("job")] == ["detect", "nightly"]  # newest first
    assert store.records("other") == []
    assert store.delete_record("job", "nightly") and not store.delete_record("job", "nightly")
    assert [r.key for r in store.records("job")] == ["detect"]


def test_only_if_new_is_a_claim_won_once(store: Store, store_url: str) -> None:
    assert store.put_record("alert", "leak.opened:7", {"n": 1}, only_if_new=True)
    assert not store.put_record("alert", "leak.opened:7", {"n": 2}, only_if_new=True)
    rec = store.get_record("alert", "leak.opened:7")
    assert rec is not None and rec.value == {"n": 1}
    if store_url.startswith("postgres"):  # a second process's connection sees it and loses the claim
        with open_store(store_url) as other:
            assert other.get_record("alert", "leak.opened:7") is not None
            wins = []
            threads = [
                threading.Thread(
                    target=lambda s=s: wins.append(s.put_record("alert", "x", {}, only_if_new=True))
                )
                for s in (store, other)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert sorted(wins) == [False, True]


def test_swap_record_is_a_compare_and_set(store: Store, store_url: str) -> None:
    assert not store.swap_record("job", "absent", {}, {"n": 1})  # nothing to swap
    store.put_record("job", "detect", {"runs": 1, "history": [{"ok": True, "s": 0.5}]})
    seen = store.get_record("job", "detect")
    assert seen is not None
    assert store.swap_record("job", "detect", seen.value, {"runs": 2})
    assert not store.swap_record("job", "detect", seen.value, {"runs": 99})  # stale: lost
    got = store.get_record("job", "detect")
    assert got is not None and got.value == {"runs": 2}
    if store_url.startswith("postgres"):  # two connections racing on one value: exactly one wins
        with open_store(store_url) as other:
            wins = []
            threads = [
                threading.Thread(
                    target=lambda s=s, n=n: wins.append(
                        s.swap_record("job", "detect", {"runs": 2}, {"runs": n})
                    )
                )
                for s, n in ((store, 3), (other, 4))
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert sorted(wins) == [False, True]


def test_nan_and_infinity_are_stored_as_null(store: Store) -> None:
    assert store.put_record("analytics", "x", {"ili": float("nan"), "v": [1.5, float("inf")]})
    got = store.get_record("analytics", "x")
    assert got is not None and got.value == {"ili": None, "v": [1.5, None]}
