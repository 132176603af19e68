"""BattLeDIM and operational scoring on L-Town with hand-made truth and results."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from helpers import LTOWN
from tirta.errors import InputError
from tirta.leaks.evaluate import (
    Detection,
    PipeDistances,
    read_results,
    score_battledim,
    score_operational,
    summarise,
    write_results,
)
from tirta.network import load_network


@pytest.fixture(scope="module")
def net():
    return load_network(LTOWN)


@pytest.fixture(scope="module")
def dist(net):
    return PipeDistances(net)


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def truth_frame(rows: list[tuple[str, str, str, str, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["linkID", "kind", "start", "peak", "end"])
    for col in ("start", "peak", "end"):
        frame[col] = pd.DatetimeIndex(frame[col]).tz_localize("UTC")
    frame["diameter_m"] = 0.01
    return frame


def test_distance_same_pipe_is_zero(dist):
    assert dist.between("p257", "p257") == 0.0


def test_distance_neighbours_is_half_lengths(dist, net):
    # p631 and p632 share node n592: the path between them is 0, so x = L/2 + L/2
    lengths = net.links.loc[["p631", "p632"], "length_m"]
    assert dist.between("p631", "p632") == pytest.approx(lengths.sum() / 2)


def test_distance_matches_battledim_reference(dist):
    # the official test_team_multiple report: p632 detected for leak p653 at 246.1 m
    assert dist.between("p632", "p653") == pytest.approx(246.117, abs=0.01)
    assert dist.between("p653", "p632") == dist.between("p632", "p653")


def test_distance_across_prv_is_unreachable(dist):
    # p701 ends at n229, p155 at n226: PRV-3 joins them, and valves are not in the pipe graph
    assert np.isinf(dist.between("p701", "p155"))


def test_unknown_pipe_is_an_input_error(dist):
    with pytest.raises(InputError, match="p9999"):
        dist.between("p9999", "p1")


LEAKS = [
    ("p632", "abrupt", "2021-01-10 10:00", "2021-01-10 10:00", "2021-02-20 00:00"),
    ("p257", "incipient", "2021-01-05 00:00", "2021-01-12 00:00", "2021-02-20 00:00"),
]


def test_tp_repeat_fp_and_delays(dist):
    truth = truth_frame(LEAKS)
    dets = [
        Detection("p653", ts("2021-01-10 10:30")),  # 246 m from p632, 30 min late: TP
        Detection("p632", ts("2021-01-11 00:00")),  # same leak again: repeat
        Detection("p257", ts("2021-01-09 00:00")),  # incipient, 4 days after start: TP
        Detection("p701", ts("2021-01-15 00:00")),  # far from both leaks: FP
        Detection("p632", ts("2021-01-10 09:00")),  # before the leak started: FP
    ]
    for rule in (score_operational, score_battledim):
        s = rule(truth, dets, dist)
        assert (s.tp, s.fp, s.fn, s.repeats) == (2, 2, 0, 1), rule.__name__
        assert s.precision == pytest.approx(0.5) and s.recall == 1.0
        assert s.f1 == pytest.approx(2 / 3)
        assert s.delay_h_median_abrupt == pytest.approx(0.5)
        assert s.delay_h_median_incipient == pytest.approx(96.0)
        assert s.distance_m_median == pytest.approx(246.117 / 2, abs=0.01)


def test_seven_day_rule_only_in_operational_view(dist):
    truth = truth_frame(LEAKS[1:])  # incipient p257 reaches full size on 2021-01-12
    on_time = [Detection("p257", ts("2021-01-19 00:00"))]
    late = [Detection("p257", ts("2021-01-19 00:05"))]
    assert score_operational(truth, on_time, dist).tp == 1
    op = score_operational(truth, late, dist)
    assert (op.tp, op.fp, op.fn) == (0, 1, 1)
    assert score_battledim(truth, late, dist).tp == 1  # no delay bound in the official rules


def test_late_repeat_of_a_detected_leak_is_not_a_false_alarm(dist):
    truth = truth_frame(LEAKS[1:])
    dets = [Detection("p257", ts("2021-01-06 00:00")), Detection("p257", ts("2021-02-01 00:00"))]
    s = score_operational(truth, dets, dist)
    assert (s.tp, s.fp, s.repeats) == (1, 0, 1)


def test_detection_after_repair_is_false(dist):
    truth = truth_frame(LEAKS[:1])
    s = score_battledim(truth, [Detection("p632", ts("2021-02-20 00:05"))], dist)
    assert (s.tp, s.fp) == (0, 1)


def test_across_prv_never_hits(dist):
    truth = truth_frame([("p155", "abrupt", "2021-01-10 10:00", "2021-01-10 10:00", "2021-02-20 00:00")])
    s = score_battledim(truth, [Detection("p701", ts("2021-01-10 10:00"))], dist)
    assert (s.tp, s.fp) == (0, 1)


def test_credit_goes_to_the_closest_undetected_leak(dist):
    truth = truth_frame(
        [
            ("p653", "abrupt", "2021-01-10 10:00", "2021-01-10 10:00", "2021-02-20 00:00"),
            ("p632", "abrupt", "2021-01-10 10:00", "2021-01-10 10:00", "2021-02-20 00:00"),
        ]
    )
    dets = [Detection("p632", ts("2021-01-10 11:00")), Detection("p632", ts("2021-01-10 12:00"))]
    s = score_battledim(truth, dets, dist)
    assert s.tp == 2 and s.matches[0]["leak"] == "p632" and s.matches[1]["leak"] == "p653"


def test_euro_value_with_leak_flows(dist):
    truth = truth_frame([("p653", "abrupt", "2021-01-01 00:00", "2021-01-01 00:00", "2021-01-02 00:00")])
    index = pd.date_range("2021-01-01", periods=288, freq="5min", tz="UTC")
    flows = pd.DataFrame({"p653": np.full(288, 1e-3)}, index=index)  # 1 L/s = 3.6 m³/h
    td = ts("2021-01-01 12:00")
    s = score_battledim(truth, [Detection("p632", td), Detection("p1", td)], dist, leak_flows=flows)
    steps = 144 + 1  # from one step before the detection to the end of the series
    expected = 0.8 * steps * 3.6 / 12 - 500 * dist.between("p632", "p653") / 300 - 500
    assert s.value_eur == pytest.approx(expected)
    assert score_operational(truth, [Detection("p632", td)], dist).value_eur is None


def test_summarise_pools_counts(dist):
    truth = truth_frame(LEAKS)
    a = score_operational(truth, [Detection("p632", ts("2021-01-10 10:00"))], dist)
    b = score_operational(truth, [Detection("p1", ts("2021-01-10 10:00"))], dist)
    pooled = summarise([a, b])
    assert (pooled["tp"], pooled["fp"], pooled["fn"], pooled["leaks"]) == (1, 1, 3, 4)
    assert pooled["precision"] == 0.5 and pooled["recall"] == 0.25


def test_results_round_trip_and_errors(tmp_path, net):
    path = write_results(
        tmp_path / "r.txt",
        [Detection("p257", ts("2019-01-15 23:00")), Detection("p1", ts("2019-01-01 00:05"))],
    )
    lines = path.read_text().splitlines()
    assert lines == ["# linkID, startTime", "p1, 2019-01-01 00:05", "p257, 2019-01-15 23:00"]
    assert [d.pipe for d in read_results(path, net)] == ["p1", "p257"]
    bad = tmp_path / "bad.txt"
    bad.write_text("# linkID, startTime\np1, 2019-01-01 00:05\np2, yesterday\n")
    with pytest.raises(InputError) as err:
        read_results(bad, net)
    assert err.value.line == 3 and err.value.field == "startTime"
    bad.write_text("# linkID, startTime\npXYZ, 2019-01-01 00:05\n")
    with pytest.raises(InputError) as err:
        read_results(bad, net)
    assert err.value.line == 2 and err.value.field == "linkID"


def _tirta(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tirta", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env={"COLUMNS": "120", "PATH": "/usr/bin:/bin", "NO_COLOR": "1"},
    )


def test_cli_score_prints_json(tmp_path):
    truth = tmp_path / "truth.csv"
    truth.write_text(
        "linkID,kind,start,peak,end,diameter_m\n"
        "p632,abrupt,2021-01-10 10:00,2021-01-10 10:00,2021-02-20 00:00,0.01\n"
        "p257,incipient,2021-01-05 00:00,2021-01-12 00:00,2021-02-20 00:00,0.01\n"
    )
    results = tmp_path / "results.txt"
    results.write_text("# linkID, startTime\np653, 2021-01-10 10:30\np701, 2021-01-15 00:00\n")
    out = _tirta("leaks", "score", LTOWN, truth, results)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    op = report["operational"]
    assert (op["tp"], op["fp"], op["fn"]) == (1, 1, 1)
    assert op["f1"] == pytest.approx(0.5)
    assert report["battledim"]["value_eur"] is None


def test_cli_score_bad_results_exits_2(tmp_path):
    truth = tmp_path / "truth.csv"
    truth.write_text("linkID,kind,start,peak,end,diameter_m\n")
    results = tmp_path / "results.txt"
    results.write_text("# linkID, startTime\np1 2021-01-10\n")
    out = _tirta("leaks", "score", LTOWN, truth, results)
    assert out.returncode == 2
    assert "results.txt:2" in out.stderr and "Traceback" not in out.stderr
