"""A user's display units are a record of the store (DuckDB and PostgreSQL): they outlast the process,
another process on the same store sees them, and a bad choice is refused with the field named."""

from __future__ import annotations

import pytest

from tirta.api.prefs import PREFS, set_units, user_units
from tirta.errors import UnitError
from tirta.telemetry.store import open_store


def test_units_kept_in_the_store(store_url: str) -> None:
    with open_store(store_url) as store:
        assert user_units(store, "ana", "metric").units == "metric"  # the deployment's default
        chosen = set_units(store, "ana", "us,flow=MLD", "metric")
        assert chosen.own and chosen.shown["flow"] == "MLD" and chosen.shown["pressure"] == "psi"
        assert user_units(store, "budi", "metric").shown["flow"] == "L/s"  # others keep the default
    with open_store(store_url) as again:  # a restart, or the other server process on PostgreSQL
        kept = user_units(again, "ana", "")
        assert kept.own and kept.units == "us,flow=MLD" and kept.shown["flow"] == "MLD"
        assert [r.key for r in again.records(PREFS)] == ["ana"]
        back = set_units(again, "ana", "", "si")
        assert not back.own and back.shown["flow"] == "m3/s" and again.records(PREFS) == []


def test_bad_units_name_the_field(store_url: str) -> None:
    with open_store(store_url) as store:
        with pytest.raises(UnitError) as bad:
            set_units(store, "ana", "pressure=gpm", "")
        assert bad.value.field == "units" and "gpm" in bad.value.message
        assert store.records(PREFS) == []
