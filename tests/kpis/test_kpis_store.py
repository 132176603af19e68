"""KPI inputs completed from the store: the period's DMA balances (the dashboard's L-Town slice) give the
volumes the UTILITY.toml lacks; the file wins; incomplete data flag the indicators using them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tirta.balance import dma_balance, resolve_zone
from tirta.cli import main
from tirta.network import load_dmas, load_network
from tirta.network.model import builtin_network_path
from tirta.telemetry.store import open_store

TOML = 'utility = "L-Town (simulated)"\nfrom = 2020-12-01\nto = 2020-12-31\nhours_supply = 24\n'


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    out, err = capsys.readouterr()
    code = exit_info.value.code
    return (0 if code is None else int(code)), out, err


@pytest.fixture
def store_url(web_store: tuple[str, Path, int], tmp_path: Path) -> str:
    dst = tmp_path / "store.duckdb"
    shutil.copy(web_store[0].removeprefix("duckdb:///"), dst)
    return f"duckdb:///{dst}"


def test_volumes_from_the_store_balances(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "u.toml"
    path.write_text(TOML + "v_sold_metered = 100\n")
    code, out, _ = _run(["kpis", "compute", str(path), "--store", store_url, "--json"], capsys)
    assert code == 0
    doc = json.loads(out)
    inp = builtin_network_path("l-town")
    net = load_network(inp)
    with open_store(store_url) as st:
        zone = resolve_zone("C", load_dmas(inp.with_name("L-TOWN.dmas.toml"), net), st.sensors(), net)
        t0, t1 = pd.Timestamp("2020-12-01", tz="UTC"), pd.Timestamp("2021-01-01", tz="UTC")
        bal = dma_balance(st, zone, t0, t1).total.balance
    assert bal is not None
    # only DMA C has a balance in the 12-hour slice (A+B has no consumption data, B no own inflow meter)
    assert doc["inputs"]["v_produced"] == pytest.approx(bal.system_input_volume.value)
    assert doc["inputs"]["carl"] == pytest.approx(bal.real_losses.value)
    assert doc["inputs"]["n_conn_w"] == zone.connections
    assert doc["input_sources"]["v_produced"] == "store: balances of DMA C"
    assert doc["input_sources"]["v_sold_metered"] == "file" and doc["inputs"]["v_sold_metered"] == 100
    assert any("cover 1.6 % of the period" in n for n in doc["notes"])
    nrw = doc["indicators"]["6.1"]
    assert nrw["value"] == pytest.approx(
        100 * bal.non_revenue_water.value / bal.system_input_volume.value
    )
    assert "partial_data" in nrw["flags"]
    ili = doc["indicators"]["ILI"]
    assert "negative_real_losses" in ili["flags"] and ili["flags"].count("uarl_uncertain") == 1
    assert "partial_data" not in doc["indicators"]["15.1"]["flags"]  # hours_supply comes from the file


def test_store_without_sensors_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "u.toml"
    path.write_text(TOML)
    code, _, err = _run(
        ["kpis", "compute", str(path), "--store", f"duckdb:///{tmp_path / 'e.duckdb'}"], capsys
    )
    assert code == 2 and "field '--dmas'" in err and len(err.strip().splitlines()) == 1
