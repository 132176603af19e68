"""Customer-side leaks and meter faults from smart meters: detection, loss and cost, scoring, events."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from tirta.cli import app
from tirta.errors import InputError
from tirta.hydraulics.customers import (
    LPH,
    CustomerConfig,
    read_customer_truth,
    read_customers,
    simulate_customers,
    write_customer_truth,
    write_customers,
)
from tirta.leaks.customers import detect_customers, open_customer_events, score_customers
from tirta.leaks.events import list_events
from tirta.telemetry.store import Store

T0 = pd.Timestamp("2021-01-01", tz="UTC")
EVAL = T0 + pd.Timedelta(days=14)


def _population(seed: int, customers: int, leaks: int, faults: int, days: int = 49):
    rng = np.random.default_rng(seed)
    cfg = CustomerConfig(customers=customers, leaks=leaks, faults=faults)
    data = simulate_customers(["n1", "n2", "n3"], T0, days * 24, EVAL, cfg, rng)
    r = data.readings
    return data, r[r.index < EVAL], r[r.index >= EVAL]


def test_planted_leaks_of_5_lph_and_more_are_found_with_precision_and_recall_above_0_9() -> None:
    data, train, evaluation = _population(seed=11, customers=150, leaks=15, faults=10)
    alerts = detect_customers(evaluation, train)
    sc = score_customers(data.truth, alerts, min_flow_lph=5.0)
    leak = sc["customer_leak"]
    assert leak["planted"] == 15
    assert leak["precision"] >= 0.9 and leak["recall"] >= 0.9
    assert leak["flow_error_rel_median"] < 0.1
    assert sc["all"]["precision"] >= 0.8  # faults and leaks together


def test_a_10_lph_leak_gives_its_loss_and_cost_at_the_tariff() -> None:
    _, train, evaluation = _population(seed=5, customers=20, leaks=0, faults=0)
    evaluation = evaluation.copy()
    start = EVAL + pd.Timedelta(days=10, hours=13)
    evaluation.loc[evaluation.index >= start, "c0007"] += 10.0 * LPH
    alerts = detect_customers(evaluation, train, tariff_per_m3=2.0)
    assert [(a.customer, a.kind) for a in alerts] == [("c0007", "customer_leak")]
    a = alerts[0]
    assert a.flow_lph == pytest.approx(10.0, abs=1.0)
    assert a.loss_m3_day == pytest.approx(0.24, abs=0.024)  # 10 L/h × 24 h
    assert a.cost_per_day == pytest.approx(2.0 * a.loss_m3_day)
    # the leak hides in daytime use: its start is known from the last dry hour before it
    assert start - pd.Timedelta(hours=12) <= a.start <= start
    assert a.detected_at - start < pd.Timedelta(days=4)


def test_each_meter_fault_kind_is_named_on_a_clean_population() -> None:
    _, train, evaluation = _population(seed=8, customers=40, leaks=0, faults=0)
    ev = evaluation.copy()
    at = ev.index >= EVAL + pd.Timedelta(days=3)
    ev.loc[at, "c0001"] = 0.0  # stopped
    ev.loc[at, "c0002"] = -ev.loc[at, "c0002"]  # reversed
    # a household of 5 whose meter reads 30 % (a day's use varies too much to see mild losses)
    ev.loc[at, "c0004"] = (ev.loc[at, "c0004"] / LPH * 0.3).round() * LPH
    found = {(a.customer, a.kind) for a in detect_customers(ev, train)}
    assert ("c0001", "stopped") in found and ("c0002", "reverse_flow") in found
    assert ("c0004", "under_registering") in found
    assert not any(c not in ("c0001", "c0002", "c0004") for c, _ in found)  # no false alarm


def test_scoring_counts_a_wrong_kind_as_a_false_positive_and_a_miss() -> None:
    truth = pd.DataFrame(
        [{"customer": "c1", "node": "n1", "kind": "customer_leak", "start": EVAL, "end": EVAL + pd.Timedelta(days=9), "flow_lph": 8.0, "factor": None}]
    )  # fmt: skip
    from tirta.leaks.customers import CustomerAlert

    wrong = CustomerAlert("c1", "stopped", EVAL, EVAL + pd.Timedelta(days=3), 0.2, 0.3)
    sc = score_customers(truth, [wrong])
    assert (sc["all"]["tp"], sc["all"]["fp"], sc["all"]["fn"]) == (0, 1, 1)
    right = CustomerAlert("c1", "customer_leak", EVAL, EVAL + pd.Timedelta(days=3), 0.19, 0.3, 8.0)
    sc = score_customers(truth, [right])
    assert (sc["customer_leak"]["tp"], sc["customer_leak"]["precision"]) == (1, 1.0)


def test_alerts_open_events_of_their_kind_once(store: Store) -> None:
    _, train, evaluation = _population(seed=5, customers=20, leaks=0, faults=0)
    evaluation = evaluation.copy()
    evaluation.loc[evaluation.index >= EVAL + pd.Timedelta(days=5), "c0004"] += 20.0 * LPH
    alerts = detect_customers(evaluation, train, tariff_per_m3=1.2, nodes={"c0004": "n2"})
    opened, skipped = open_customer_events(store, alerts, tariff_per_m3=1.2)
    assert len(opened) == 1 and skipped == 0
    (event,) = list_events(store)
    assert event.kind == "customer_leak" and event.pipe is None
    assert event.customer is not None and event.customer["id"] == "c0004"
    assert event.customer["node"] == "n2" and event.customer["tariff_per_m3"] == 1.2
    assert event.size_lps == pytest.approx(20.0 / 3600, rel=0.1)  # the loss as L/s
    assert event.to_dict()["customer"]["cost_per_day"] == pytest.approx(1.2 * 0.48, rel=0.1)
    assert open_customer_events(store, alerts, tariff_per_m3=1.2) == ([], 1)


def test_readings_and_truth_files_round_trip_and_bad_rows_name_line_and_field(tmp_path: Path) -> None:
    data, _, _ = _population(seed=2, customers=5, leaks=1, faults=1, days=20)
    write_customers(tmp_path, data.readings)
    back = read_customers(tmp_path)
    assert np.allclose(back.to_numpy(), data.readings.to_numpy(), atol=0.05 * LPH)
    write_customer_truth(tmp_path / "t.csv", data.truth)
    assert read_customer_truth(tmp_path / "t.csv")["kind"].tolist() == data.truth["kind"].tolist()
    (tmp_path / "bad.csv").write_text(
        "customer,node,kind,start,end\nc1,n1,customer_leak,2021-01-01 00:00,2021-01-02 00:00\n"
        "c2,n1,burst,2021-01-01 00:00,2021-01-02 00:00\n"
    )
    with pytest.raises(InputError) as err:
        read_customer_truth(tmp_path / "bad.csv")
    assert (err.value.line, err.value.field) == (3, "kind")
    text = (tmp_path / "Customers.csv").read_text().splitlines()
    text[3] = text[3].replace(";", ";x", 1)
    (tmp_path / "Customers.csv").write_text("\n".join(text))
    with pytest.raises(InputError) as err:
        read_customers(tmp_path)
    assert (err.value.line, err.value.field) == (4, "c0001")


def test_cli_prints_alerts_and_the_score(tmp_path: Path) -> None:
    data, train, evaluation = _population(seed=3, customers=30, leaks=3, faults=2)
    write_customers(tmp_path / "train", train)
    write_customers(tmp_path / "eval", evaluation)
    write_customer_truth(tmp_path / "truth.csv", data.truth)
    res = CliRunner().invoke(
        app,
        ["leaks", "customers", str(tmp_path / "eval"), "--train", str(tmp_path / "train"),
         "--tariff", "2", "--truth", str(tmp_path / "truth.csv"), "--out", str(tmp_path / "a.csv")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    score = json.loads(res.stdout)
    assert score["customer_leak"]["recall"] == 1.0
    alerts = pd.read_csv(tmp_path / "a.csv")
    assert set(alerts["kind"]) >= {"customer_leak"}
    assert np.allclose(alerts["cost_per_day"], 2 * alerts["loss_m3_day"], atol=2e-4)
