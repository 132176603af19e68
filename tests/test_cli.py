"""The command line as a user meets it: real subprocesses, exit codes, one-line errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pandas as pd
import pytest

from helpers import BAD, NET1


def tirta(*args: str, cwd=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tirta", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        env={"COLUMNS": "120", "PATH": "/usr/bin:/bin", "NO_COLOR": "1"},
    )


def test_help_lists_command_groups():
    out = tirta("--help")
    assert out.returncode == 0
    for group in ("network", "simulate", "demo"):
        assert group in out.stdout


def test_network_info_ltown_json():
    out = tirta("network", "info", "l-town", "--json")
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["junctions"] == 782 and info["pipes"] == 905 and info["valves"] == 3
    assert info["mains_length_km"] == pytest.approx(43.163, abs=0.001)
    assert [d["name"] for d in info["dmas"]] == ["A", "B", "C"]
    assert info["problems"] == []


def test_network_info_table_shows_problems():
    out = tirta("network", "info", BAD / "problems.inp")
    assert out.returncode == 0, out.stderr
    for words in (
        "junctions",
        "mains length",
        "disconnected",
        "zero_length",
        "missing_coordinates",
        "missing_pattern",
        "DMAs: none",
    ):
        assert words in out.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("network", "info", BAD / "bad_number.inp"), "bad_number.inp:6: field 'Elevation'"),
        (("network", "info", BAD / "negative_length.inp"), "negative_length.inp:8: field 'Length'"),
        (
            (
                "simulate",
                BAD / "problems.inp",
                "--out",
                "x",
                "--sensors",
                BAD / "sensors_unknown_node.csv",
            ),
            "sensors_unknown_node.csv:3: field 'node'",
        ),
        (
            ("simulate", NET1, "--out", "x", "--sensors", BAD / "sensors_unknown_unit.csv"),
            "field 'unit': unknown unit 'furlongs/fortnight'",
        ),
        (("simulate", NET1, "--out", "x", "--leaks", "many"), "field 'leaks'"),
    ],
)
def test_bad_input_one_line_exit_2(args, words, tmp_path):
    out = tirta(*args, cwd=tmp_path)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert words in lines[0]
    assert "Traceback" not in out.stderr


def test_simulate_writes_layout(tmp_path):
    out = tirta("simulate", NET1, "--days", "1", "--leaks", "1", "--seed", "3", "--out", tmp_path / "o")
    assert out.returncode == 0, out.stderr
    for name in ("Pressures.csv", "Flows.csv", "Levels.csv", "Demands.csv", "truth.csv", "sensors.json"):
        assert (tmp_path / "o" / name).is_file()
    assert "1 hidden leak" in out.stdout


@pytest.mark.slow
def test_demo_builds_city(tmp_path):
    out = tirta("demo", "--out", tmp_path / "demo", "--days", "3", "--no-serve")
    assert out.returncode == 0, out.stderr
    assert "Serving" not in out.stdout
    assert "782 junctions" in out.stdout and "readings written" in out.stdout
    assert (tmp_path / "demo" / "telemetry" / "Pressures.csv").is_file()
    assert (tmp_path / "demo" / "city" / "L-TOWN.inp").is_file()
    # the telemetry went through ingestion into the demo's store: every reading written is stored
    from tirta.telemetry import read_battledim
    from tirta.telemetry.store import open_store

    written = read_battledim(tmp_path / "demo" / "telemetry").n_readings()
    said = re.search(
        r"([\d,]+) readings accepted, ([\d,]+) duplicate, ([\d,]+) quarantined",
        " ".join(out.stdout.split()),
    )
    assert said, out.stdout
    assert [int(n.replace(",", "")) for n in said.groups()] == [written, 0, 0], out.stdout

    with open_store(f"duckdb:///{tmp_path / 'demo' / 'tirta.duckdb'}") as store:
        assert store.counts()["readings"] == written
        wide = store.read(["p227", "n1"], "2021-01-01", "2021-01-02", every="1h")
    assert len(wide) == 24 and wide.notna().all().all()
    # the demo bills its customers, so the DMA balance needs no spreadsheet
    billing = tmp_path / "demo" / "city" / "billing.csv"
    bal = tirta(
        "balance",
        "dma",
        "A",
        "--store",
        f"duckdb:///{tmp_path / 'demo' / 'tirta.duckdb'}",
        "--billing",
        billing,
        "--from",
        "2021-01",
        "--to",
        "2021-01",
        "--json",
    )
    assert bal.returncode == 0, bal.stderr
    month = json.loads(bal.stdout)["months"][0]
    assert month["real_losses"] > 0 and 2 < month["nrw_pct"] < 50
    # the leaks start after the leak-free calibration day, and a second run reuses the build
    from tirta.telemetry.battledim import read_truth

    truth = read_truth(tmp_path / "demo" / "telemetry" / "truth.csv")
    assert len(truth) == 3 and (truth["start"] >= pd.Timestamp("2021-01-02", tz="UTC")).all()
    again = tirta("demo", "--out", tmp_path / "demo", "--days", "3", "--no-serve")
    assert again.returncode == 0, again.stderr
    assert "reused the earlier build" in again.stdout
    assert f"{written:,} readings accepted" in " ".join(again.stdout.split())  # however Rich wraps it
