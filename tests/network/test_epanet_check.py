"""A model EPANET reads, tirta reads; what EPANET refuses is one line naming the problem, no crash."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import FIXTURES, NET1, WNTR_NETWORKS
from tirta.errors import ModelError
from tirta.hydraulics import Engine
from tirta.network import load_network
from tirta.network.inpcheck import normalise_for_wntr

WNTR_TESTS = WNTR_NETWORKS.parent.parent / "tests" / "networks_for_testing"


def _net1_with(tmp_path: Path, name: str, edit) -> Path:
    lines = NET1.read_text().splitlines()
    path = tmp_path / name
    path.write_text("\n".join(edit(lines)) + "\n")
    return path


def _undefined_pattern(tmp_path: Path) -> tuple[Path, int]:
    def edit(lines: list[str]) -> list[str]:
        i = next(k for k, t in enumerate(lines) if t.split()[:1] == ["11"])
        lines[i] = " 11  710  150  NOPAT ;"
        return lines

    path = _net1_with(tmp_path, "undefined_pattern.inp", edit)
    line = 1 + next(k for k, t in enumerate(path.read_text().splitlines()) if "NOPAT" in t)
    return path, line


def _unconnected(tmp_path: Path) -> tuple[Path, int]:
    def edit(lines: list[str]) -> list[str]:
        out = []
        for t in lines:
            out.append(t)
            if t.strip() == "[JUNCTIONS]":
                out.append(" 99  700  10")
        return out

    path = _net1_with(tmp_path, "unconnected.inp", edit)
    line = 1 + path.read_text().splitlines().index(" 99  700  10")
    return path, line


def _tirta(*args: object) -> subprocess.CompletedProcess[str]:
    """The CLI as a user meets it: a subprocess (a native crash shows as exit 134)."""
    return subprocess.run(
        [sys.executable, "-m", "tirta", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env={
            "COLUMNS": "200",
            "PATH": "/usr/bin:/bin",
            "NO_COLOR": "1",
            "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        },
    )


def _one_error_line(out: subprocess.CompletedProcess[str]) -> str:
    assert out.returncode == 2, (out.returncode, out.stderr[-2000:])
    errors = [t for t in out.stderr.splitlines() if t.startswith("error:")]
    assert len(errors) == 1, out.stderr
    assert "Traceback" not in out.stderr and "free()" not in out.stderr
    return errors[0]


@pytest.mark.slow
def test_simulate_undefined_pattern_is_one_line_not_a_native_crash(tmp_path):
    path, line = _undefined_pattern(tmp_path)
    err = _one_error_line(_tirta("simulate", path, "--days", "0.1", "--out", tmp_path / "o"))
    assert err.startswith(f"error: {path}:{line}: EPANET error 205: undefined time pattern NOPAT")


@pytest.mark.slow
def test_simulate_unconnected_junction_is_one_line(tmp_path):
    path, line = _unconnected(tmp_path)
    err = _one_error_line(_tirta("simulate", path, "--days", "0.1", "--out", tmp_path / "o"))
    assert err == f"error: {path}:{line}: EPANET error 234: network has an unconnected node with ID: 99"


@pytest.mark.parametrize("snapshots", [False, True], ids=["first-run", "solver-opened"])
def test_engine_undefined_pattern_names_the_line(tmp_path, snapshots):
    path, line = _undefined_pattern(tmp_path)
    with pytest.raises(ModelError) as info:
        Engine(path, snapshots=snapshots)
    assert info.value.line == line and info.value.file == str(path)
    assert "undefined time pattern NOPAT in [JUNCTIONS]" in str(info.value)


@pytest.mark.parametrize("snapshots", [False, True], ids=["first-run", "solver-opened"])
def test_engine_unconnected_junction_names_node_and_line(tmp_path, snapshots):
    """The engine's own solver set-up is EPANET's check (at once for snapshots, else at the first
    run): the same one-line error either way, naming the node and the line."""
    path, line = _unconnected(tmp_path)
    assert any(p.kind == "disconnected" for p in load_network(path).problems())  # info lists it
    with pytest.raises(ModelError) as info, Engine(load_network(path), snapshots=snapshots) as eng:
        eng.run(3600)
    assert info.value.line == line
    assert str(info.value) == (
        f"{path}:{line}: EPANET error 234: network has an unconnected node with ID: 99"
    )


def test_truncated_inp_names_file_and_line(tmp_path):
    text = NET1.read_text()
    path = tmp_path / "truncated.inp"
    path.write_text(text[: len(text) // 2])
    with pytest.raises(ModelError) as info:
        load_network(path)
    err = info.value
    assert err.file == str(path) and err.line is not None
    assert "NoneType" not in str(err)
    assert "EPANET error 206: undefined curve 1 in [PUMPS] section" in str(err)
    assert path.read_text().splitlines()[err.line - 1].split()[:2] == ["9", "9"]


def test_wntr_bad_syntax_is_one_clean_line():
    path = WNTR_TESTS / "bad_syntax.inp"
    with pytest.raises(ModelError) as info:
        load_network(path)
    text = str(info.value)
    assert "%s" not in text and "\n" not in text
    assert info.value.line == 330
    assert "invalid section keyword [FOO]" in text


def test_clock_times_with_am_pm_load_as_epanet_reads_them(tmp_path):
    def edit(lines: list[str]) -> list[str]:
        i = lines.index("[RULES]") if "[RULES]" in lines else len(lines)
        rules = [
            "[RULES]",
            "RULE 1",
            "IF SYSTEM CLOCKTIME >= 6 AM",
            "AND SYSTEM CLOCKTIME < 8 PM",
            "THEN PUMP 9 STATUS IS OPEN",
            "ELSE PUMP 9 STATUS IS CLOSED",
        ]
        return [*lines[:i], *rules, *lines[i + 1 :]]

    path = _net1_with(tmp_path, "clock.inp", edit)
    net = load_network(path)
    assert any("24-hour" in n for n in net.load_notes)
    (rule,) = [c for name, c in net.wn.controls() if name == "1"]
    assert "CLOCKTIME >= 6:00:00 AM" in str(rule) and "CLOCKTIME BELOW 8:00:00 PM" in str(rule)
    with Engine(net) as eng:  # EPANET itself reads the original text
        assert len(eng.run(3600).pressure_m) > 0


def test_normalise_keeps_line_numbers_and_meaning():
    text = (
        "[OPTIONS]\n Pattern time\n Quality Chemical TIME\n[CONTROLS]\n"
        "LINK 9 OPEN AT CLOCKTIME 8:30 pm ; evening\n[PATTERNS]\n 1 1.0\n"
    )
    fixed, notes = normalise_for_wntr(text)
    lines = fixed.splitlines()
    assert len(lines) == len(text.splitlines())
    assert lines[1].strip() == ""
    assert lines[2].split() == ["Quality", "Chemical"]
    assert lines[4] == "LINK 9 OPEN AT CLOCKTIME 20:30:00 ; evening"
    assert len(notes) == 3


@pytest.mark.parametrize(
    "name",
    ["MICROPOLIS_v1.inp", "foss_poly_1.inp", "BWSN_Network_1.inp"],
)
def test_public_models_wntr_refused_now_load(name):
    """MICROPOLIS (``6 AM`` in [RULES]), foss_poly_1 (undefined default pattern), BWSN 1 (chemical
    unit 'TIME'): EPANET reads them all."""
    net = load_network(FIXTURES / "networks" / name)
    assert net.counts()["junctions"] > 0
    assert net.load_notes
