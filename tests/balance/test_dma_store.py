"""DMA balance and night flow from a stored, simulated L-Town (3 days): inflow, unmetered meters, leaks, CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from tirta.balance import (
    BalanceOptions,
    NightFlowOptions,
    dma_balance,
    dma_balance_report,
    load_billing,
    night_flow,
    parse_month_range,
    resolve_zone,
    zone_inflow,
)
from tirta.cli import app
from tirta.errors import InputError
from tirta.network import load_dmas, load_network
from tirta.network.model import builtin_network_path
from tirta.telemetry.store import open_store

pytestmark = pytest.mark.slow

JAN = (pd.Timestamp("2021-01-01", tz="UTC"), pd.Timestamp("2021-02-01", tz="UTC"))


@pytest.fixture(scope="module")
def ltown() -> tuple[Any, list[Any]]:
    inp = builtin_network_path("l-town")
    net = load_network(inp)
    return net, load_dmas(inp.with_name("L-TOWN.dmas.toml"), net)


def _cli(args: list[str]) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["balance", "dma", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_dma_a_inflow_is_p227_plus_p235_minus_pump1(ltown_stores: dict[str, Any], ltown: Any) -> None:
    net, dmas = ltown
    with open_store(ltown_stores["leak_free"]) as store:
        zone = resolve_zone("A", dmas, store.sensors(), net)
        raw = store.read(["p227", "p235", "PUMP_1"], *JAN)
        flows = zone_inflow(zone, raw)
    # PRV-3 (A → B) has no meter: B is merged and the inflow is that of A and B together
    assert zone.dmas == ("A", "B")
    assert zone.formula == "p227 + p235 − PUMP_1"
    assert any("PRV-3" in n for n in zone.notes)
    assert zone.connections == 628 + 27
    expected = raw["p227"] + raw["p235"] - raw["PUMP_1"]
    np.testing.assert_allclose(flows["inflow"].to_numpy(), expected.to_numpy(), rtol=1e-12)
    assert len(flows) == 3 * 288


def test_dma_c_takes_the_tank_storage_out(ltown_stores: dict[str, Any], ltown: Any) -> None:
    net, dmas = ltown
    with open_store(ltown_stores["leak_free"]) as store:
        zone = resolve_zone("C", dmas, store.sensors(), net)
        raw = store.read(["PUMP_1"], *JAN)
        level = store.read(["T1"], *JAN)
    assert zone.formula == "PUMP_1 − dV(T1)/dt"
    area = zone.tanks[0].area_m2
    assert area == pytest.approx(np.pi * 16.0**2 / 4)
    flows = zone_inflow(zone, raw, level)
    expected = raw["PUMP_1"] - area * level["T1"].diff() / 300.0
    np.testing.assert_allclose(flows["inflow"].to_numpy()[1:], expected.to_numpy()[1:], rtol=1e-9)
    # the storage terms telescope: inflow volume = pumped − area × (last level − first level)
    pumped = raw["PUMP_1"].iloc[1:].sum() * 300
    drop = area * (level["T1"].iloc[-1] - level["T1"].iloc[0])
    assert flows["inflow"].sum() * 300 == pytest.approx(pumped - drop, rel=1e-9)


def test_unmetered_inlet_is_refused_naming_the_meter(ltown_stores: dict[str, Any], ltown: Any) -> None:
    net, dmas = ltown
    with open_store(ltown_stores["leak_free"]) as store:
        with pytest.raises(InputError, match="inlet PRV-3 has no flow meter") as info:
            resolve_zone("B", dmas, store.sensors(), net)
        assert info.value.field == "PRV-3"
        with pytest.raises(InputError, match="outlet PRV-3"):
            resolve_zone("A", dmas, store.sensors(), net, merge_unmetered_outlets=False)


def test_leak_shows_as_higher_night_flow_and_real_losses(
    ltown_stores: dict[str, Any], ltown: Any, ltown_billing: Path
) -> None:
    net, dmas = ltown
    truth = ltown_stores["leak_result"].truth
    assert len(truth) == 1 and ltown_stores["free_result"].truth.empty
    leak_pipe = truth["linkID"].iloc[0]
    start, end = net.links.loc[leak_pipe, ["start_node", "end_node"]]
    billing = load_billing(ltown_billing)
    out = {}
    for key in ("leak_free", "leak"):
        with open_store(ltown_stores[key]) as store:
            zone = resolve_zone("A", dmas, store.sensors(), net)
            out[key] = dma_balance_report(dma_balance(store, zone, *JAN, billing=billing))
    assert start in zone.nodes and end in zone.nodes  # the seed puts the leak inside A
    free, leak = out["leak_free"], out["leak"]
    leaked_m3 = leak["total"]["inflow_m3"] - free["total"]["inflow_m3"]
    assert leaked_m3 > 100.0
    # same billing, so the extra inflow is all real losses (apparent losses scale with it a little)
    rl_gain = leak["total"]["real_losses"] - free["total"]["real_losses"]
    assert rl_gain == pytest.approx(leaked_m3, rel=0.05)
    last_free = free["nightflow"]["nightly"][-1]
    last_leak = leak["nightflow"]["nightly"][-1]
    assert last_leak["mnf_m3h"] > last_free["mnf_m3h"] + 5.0
    assert leak["nightflow"]["daily_leakage_m3d"] > free["nightflow"]["daily_leakage_m3d"]
    assert leak["nightflow"]["ili"] > free["nightflow"]["ili"]


def test_billing_is_prorated_and_balance_closes(
    ltown_stores: dict[str, Any], ltown: Any, ltown_billing: Path
) -> None:
    net, dmas = ltown
    with open_store(ltown_stores["leak_free"]) as store:
        zone = resolve_zone("A", dmas, store.sensors(), net)
        result = dma_balance(store, zone, *JAN, billing=load_billing(ltown_billing))
    jan = result.months[0]
    share = 3 / 31  # three days of telemetry in January
    assert jan.coverage == pytest.approx(share)
    assert jan.billed_metered_m3 == pytest.approx((60000 + 30000 + 4000) * share)  # A and B, not C
    assert jan.billed_unmetered_m3 == pytest.approx(1000 * share)
    b = jan.balance
    assert b is not None
    assert b.system_input_volume.value == pytest.approx(jan.inflow_m3)
    assert b.non_revenue_water.value == pytest.approx(
        jan.inflow_m3 - jan.billed_metered_m3 - jan.billed_unmetered_m3
    )
    assert any("pro-rated" in n for n in jan.notes)


def test_amr_is_scaled_to_all_connections(ltown_stores: dict[str, Any], ltown: Any) -> None:
    net, dmas = ltown
    with open_store(ltown_stores["leak_free"]) as store:
        zone = resolve_zone("C", dmas, store.sensors(), net)
        amr = store.read(list(zone.amr_sensors), *JAN)
        result = dma_balance(store, zone, *JAN)
    assert len(zone.amr_sensors) == 82 and zone.connections == 92
    jan = result.months[0]
    assert jan.amr_meters == 82
    # counted over the time the inflow is known (the first step has no tank difference)
    assert jan.amr_m3 == pytest.approx(amr.iloc[1:].sum().sum() * 300, rel=1e-9)
    assert jan.consumption_m3 == pytest.approx(jan.amr_m3 * 92 / 82)
    assert jan.balance is not None
    assert jan.balance.billed_metered.value == pytest.approx(jan.consumption_m3)
    assert result.nightflow is not None and result.nightflow.lnu_measured


def test_night_flow_pure_recovers_a_known_leak() -> None:
    # 3 days at 5 min: consumption 2 m³/h at night, 10 by day; 4 m³/h of leakage; flat 40 m pressure
    idx = pd.date_range("2021-01-01", periods=3 * 288, freq="5min", tz="UTC")
    hours = idx.hour
    use = np.where((hours >= 1) & (hours < 5), 2.0, 10.0) / 3600
    inflow = pd.Series(use + 4.0 / 3600, index=idx)
    pressure = pd.DataFrame({"p1": 40.0, "p2": 40.0}, index=idx)
    nf = night_flow(inflow, pressure, 1000, 10.0, NightFlowOptions(household_l_per_property_h=2.0))
    assert nf.mnf_m3h == pytest.approx(6.0)
    assert nf.lnu_m3h == pytest.approx(2.0)
    assert nf.summary.night_leakage_m3_h == pytest.approx(4.0)
    assert nf.summary.ndf_h == pytest.approx(24.0)
    assert nf.summary.daily_leakage_m3_d == pytest.approx(96.0)
    assert nf.real_losses_m3 == pytest.approx(3 * 96.0)
    cut = next(w for w in nf.what_ifs if w.reduce_by_m == 10.0 and w.n1 == 1.0)
    assert cut.leakage_m3_d == pytest.approx(96.0 * 30 / 40)
    # measured night use from AMR replaces the per-property figure
    nf2 = night_flow(inflow, pressure, 1000, 10.0, night_use_m3s=pd.Series(use, index=idx))
    assert nf2.lnu_measured and nf2.lnu_m3h == pytest.approx(2.0)


def test_parse_month_range() -> None:
    t0, t1 = parse_month_range("2021-01", "2021-03")
    assert (t0, t1) == (pd.Timestamp("2021-01-01", tz="UTC"), pd.Timestamp("2021-04-01", tz="UTC"))
    assert parse_month_range("2021-01-05", "2021-01-05")[1] == pd.Timestamp("2021-01-06", tz="UTC")
    with pytest.raises(InputError, match="--to"):
        parse_month_range("2021-03", "2021-01")
    with pytest.raises(InputError):
        parse_month_range("Jan", "2021-01")


def test_cli_dma_json_on_the_demo_store(ltown_stores: dict[str, Any], ltown_billing: Path) -> None:
    url = ltown_stores["leak_free"]
    out = _cli(
        ["A", "--from", "2021-01", "--to", "2021-03", "--store", url, "--billing", str(ltown_billing)]
    )
    assert out["dma"] == "A+B" and out["inflow_formula"] == "p227 + p235 − PUMP_1"
    assert [m["period"] for m in out["months"]] == ["2021-01", "2021-02", "2021-03"]
    assert out["months"][1]["coverage"] == 0 and "no inflow readings" in out["months"][1]["notes"][0]
    total = out["total"]
    assert total["covered_days"] == pytest.approx(3.0)
    assert total["system_input_volume"] == pytest.approx(out["months"][0]["inflow_m3"])
    for key in ("real_losses", "nrw_pct", "ili", "real_losses_ci95", "components"):
        assert key in total
    assert out["nightflow"]["ndf_h"] > 20
    # default DMA file chosen because the store's sensors are L-Town's; C works without billing
    c = _cli(["C", "--from", "2021-01", "--to", "2021-01", "--store", url])
    assert c["dma"] == "C" and c["tanks"][0]["id"] == "T1"
    assert c["total"]["consumption_m3"] > c["total"]["amr_m3"] > 0


def test_cli_dma_errors_print_one_line(ltown_stores: dict[str, Any], tmp_path: Path) -> None:
    runner = CliRunner()
    url = ltown_stores["leak_free"]
    r = runner.invoke(
        app, ["balance", "dma", "B", "--from", "2021-01", "--to", "2021-01", "--store", url]
    )
    assert r.exit_code != 0 and "PRV-3" in str(r.exception)
    bad = tmp_path / "bill.csv"
    bad.write_text("account,dma,period,billed_m3,metered\nx,A,2021-13,5,yes\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_billing(bad)
    assert info.value.line == 2 and info.value.field == "period"
    empty = f"duckdb:///{tmp_path / 'empty.duckdb'}"
    r = runner.invoke(
        app, ["balance", "dma", "A", "--from", "2021-01", "--to", "2021-01", "--store", empty]
    )
    assert r.exit_code != 0 and "--dmas" in str(r.exception)


def test_balance_options_reach_the_night_flow(ltown_stores: dict[str, Any], ltown: Any) -> None:
    net, dmas = ltown
    with open_store(ltown_stores["leak_free"]) as store:
        zone = resolve_zone("A", dmas, store.sensors(), net)
        opts = BalanceOptions(night=NightFlowOptions(household_l_per_property_h=10.0, n1=1.5))
        nf = dma_balance(store, zone, *JAN, options=opts).nightflow
    assert nf is not None
    assert nf.lnu_m3h == pytest.approx(655 * 10.0 / 1000)
    assert nf.options.n1 == 1.5


def test_dma_without_pressure_sensors_still_balances(tmp_path: Path) -> None:
    """A zone whose store holds flows, levels and AMR but no pressure readings: no crash, a note."""
    import shutil

    from tirta.network import load_network
    from tirta.network.model import builtin_network_path
    from tirta.telemetry.ingest import ingest_file
    from tirta.telemetry.store import open_store

    src = Path(__file__).parents[1] / "fixtures" / "telemetry" / "l-town-slice"
    folder = tmp_path / "no-pressure"
    folder.mkdir()
    for name in ("Flows.csv", "Levels.csv", "Demands.csv"):
        shutil.copy(src / name, folder / name)
    url = f"duckdb:///{tmp_path / 's.duckdb'}"
    with open_store(url) as store:
        ingest_file(store, folder, network=load_network(builtin_network_path("l-town")))
    out = _cli(["C", "--from", "2020-12", "--to", "2020-12", "--store", url])
    assert out["dma"] == "C" and out["total"]["system_input_volume"] > 0
