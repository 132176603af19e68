"""The command-line contract: ``tirta ingest file``, ``tirta readings query``, ``tirta sensors``."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest

from tirta.cli import main
from tirta.config import DEFAULT_STORE_URL, parse_store_url, settings
from tirta.errors import InputError
from tirta.network.model import builtin_network_path
from tirta.telemetry.battledim import read_battledim

SLICE = Path(__file__).resolve().parents[1] / "fixtures" / "telemetry" / "l-town-slice"
LTOWN = str(builtin_network_path("l-town"))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the ``tirta`` entry point in-process; return (exit status, stdout, stderr)."""
    with pytest.raises(SystemExit) as done:
        main(list(argv))
    out, err = capsys.readouterr()
    code = done.value.code
    return (code if isinstance(code, int) else 0), out, err


def test_ingest_then_query_through_the_cli(capsys: pytest.CaptureFixture[str], store_url: str) -> None:
    ingest = ("ingest", "file", str(SLICE), "--store", store_url, "--network", LTOWN, "--json")
    code, out, _ = run(capsys, *ingest)
    assert code == 0
    n = 144 * 119
    assert json.loads(out) == {"accepted": n, "duplicate": 0, "quarantined": 0, "reasons": {}}
    code, out, _ = run(capsys, *ingest)
    assert json.loads(out) == {"accepted": 0, "duplicate": n, "quarantined": 0, "reasons": {}}

    args = [
        "readings",
        "query",
        "--sensors",
        "n1,p227",
        "--from",
        "2020-12-18",
        "--to",
        "2020-12-18 01:00",
    ]
    code, out, _ = run(capsys, *args, "--store", store_url, "--format", "csv")
    assert code == 0
    table = pd.read_csv(io.StringIO(out))
    assert list(table.columns) == ["time", "n1_pressure_m", "p227_flow_m3s"]
    assert len(table) == 12 and table["time"].iloc[0] == "2020-12-18T00:00:00Z"
    expected = read_battledim(SLICE)
    assert table["p227_flow_m3s"].iloc[0] == pytest.approx(expected.flow["p227"].iloc[0])

    code, out, _ = run(capsys, *args, "--every", "1h", "--agg", "max", "--store", store_url)
    table = pd.read_csv(io.StringIO(out))
    assert len(table) == 1
    assert table["n1_pressure_m"].iloc[0] == pytest.approx(expected.pressure["n1"].iloc[:12].max())


def test_store_url_comes_from_the_environment_then_the_default(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TIRTA_STORE_URL", raising=False)
    monkeypatch.setenv("TIRTA_NETWORK", LTOWN)
    code, out, _ = run(capsys, "ingest", "file", str(SLICE), "--json")
    assert code == 0 and (tmp_path / "tirta.duckdb").is_file()
    assert json.loads(out)["accepted"] == 144 * 119
    env_store = tmp_path / "env.duckdb"
    monkeypatch.setenv("TIRTA_STORE_URL", f"duckdb://{env_store}")
    code, out, _ = run(capsys, "sensors", "list", "--json")
    assert code == 0 and json.loads(out) == [] and env_store.is_file()


def test_sensors_file_registers_sensors_for_a_long_csv(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    store = f"duckdb://{tmp_path}/s.duckdb"
    registry = tmp_path / "sensors.csv"
    registry.write_text("id,kind,unit,node,max\nplant_in,pressure,bar,n1,100\n")
    data = tmp_path / "long.csv"
    data.write_text(
        "sensor,time,value,unit\nplant_in,2020-12-18 00:00,3,bar\nplant_in,2099-01-01 00:00,3,bar\n"
        "plant_in,2020-12-18 00:05,3,m3/h\n"
    )
    code, out, _ = run(
        capsys, "ingest", "file", str(data), "--store", store, "--sensors", str(registry), "--json"
    )
    assert code == 0
    assert json.loads(out) == {
        "accepted": 1,
        "duplicate": 0,
        "quarantined": 2,
        "reasons": {"future": 1, "unit not convertible": 1},
    }
    code, out, _ = run(capsys, "sensors", "list", "--store", store, "--json")
    [sensor] = json.loads(out)
    assert (
        sensor["id"] == "plant_in"
        and sensor["unit"] == "bar"
        and sensor["column"] == "plant_in_pressure_m"
    )
    code, out, _ = run(capsys, "ingest", "file", str(data), "--store", store)
    assert "0 accepted" in out and "future: 1" in out


def test_errors_print_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    store = f"duckdb://{tmp_path}/s.duckdb"
    bad = tmp_path / "bad.csv"
    bad.write_text("sensor,time,unit\nn1,2020-12-18 00:00,m\n")
    code, out, err = run(capsys, "ingest", "file", str(bad), "--store", store, "--json")
    assert code == 2 and out == ""
    assert (
        err.strip()
        == f"error: {bad}:1: field 'value': header must name the columns sensor,time,value,unit; "
        "'value' is missing"
    )
    code, _, err = run(
        capsys,
        "readings",
        "query",
        "--sensors",
        "n1",
        "--from",
        "2020",
        "--to",
        "2021",
        "--store",
        store,
    )
    assert code == 2 and "unknown sensor 'n1'" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "sensors", "list", "--store", f"duckdb://{tmp_path}/no/such/dir/s.duckdb")
    assert code == 2 and "no/such/dir/s.duckdb" in err


@pytest.mark.parametrize(
    ("url", "backend", "target"),
    [
        ("duckdb:///tmp/x.duckdb", "duckdb", "/tmp/x.duckdb"),
        ("duckdb:////tmp/x.duckdb", "duckdb", "//tmp/x.duckdb"),
        ("duckdb://./rel.duckdb", "duckdb", "./rel.duckdb"),
        ("./tirta.duckdb", "duckdb", "./tirta.duckdb"),
        ("postgresql://tirta@db:5432/telemetry", "postgres", "postgresql://tirta@db:5432/telemetry"),
        ("postgres://u:p@h/d", "postgres", "postgres://u:p@h/d"),
    ],
)
def test_store_urls(url: str, backend: str, target: str) -> None:
    parsed = parse_store_url(url)
    assert (parsed.backend, parsed.target) == (backend, target)


def test_settings_precedence() -> None:
    assert settings(env={}).store_url == DEFAULT_STORE_URL
    assert settings(env={"TIRTA_STORE_URL": "duckdb:///a.duckdb"}).store_url == "duckdb:///a.duckdb"
    assert settings(store_url="x.duckdb", env={"TIRTA_STORE_URL": "y"}).store_url == "x.duckdb"
    with pytest.raises(InputError):
        parse_store_url("sqlite:///x.db")


@pytest.mark.parametrize("command", ["query", "flags"])
def test_from_after_to_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str
) -> None:
    """Was: ``readings query`` printed an empty table and exited 0."""
    store = f"duckdb://{tmp_path}/s.duckdb"
    run(capsys, "ingest", "file", str(SLICE), "--store", store, "--network", LTOWN, "--json")
    extra = ["--sensors", "n1"] + (["--detect"] if command == "flags" else [])
    code, out, err = run(
        capsys, "readings", command, *extra, "--from", "2020-12-19", "--to", "2020-12-18",
        "--store", store,
    )  # fmt: skip
    assert code == 2 and out == ""
    assert err.strip() == (
        "error: field '--to': --to 2020-12-18 00:00 is before --from 2020-12-19 00:00 (UTC)"
    )
