"""``tirta readings query`` in display units and to Parquet and Excel files, storage staying SI."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from tirta.cli import main
from tirta.units import display_units, unit_tag

SLICE = Path(__file__).resolve().parents[1] / "fixtures" / "telemetry" / "l-town-slice"
QUERY = ["readings", "query", "--sensors", "n1,p227", "--from", "2020-12-18", "--to", "2020-12-18 01:00"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(list(argv))
    out, err = capsys.readouterr()
    code = done.value.code
    return (code if isinstance(code, int) else 0), out, err


@pytest.fixture(scope="module")
def slice_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    from tirta.network.model import builtin_network_path
    from tirta.telemetry.ingest.files import ingest_file
    from tirta.telemetry.store import open_store

    url = f"duckdb:///{tmp_path_factory.mktemp('export') / 'store.duckdb'}"
    with open_store(url) as store:
        ingest_file(store, SLICE, sensors_file=builtin_network_path("l-town").with_name("sensors.json"))
    return url


def si_table(capsys: pytest.CaptureFixture[str], store: str) -> pd.DataFrame:
    code, out, err = run(capsys, *QUERY, "--store", store, "--units", "si")
    assert code == 0, err
    return pd.read_csv(io.StringIO(out))


def test_metric_and_us_units_convert_and_name_columns(
    capsys: pytest.CaptureFixture[str], slice_store: str
) -> None:
    si = si_table(capsys, slice_store)
    code, out, err = run(capsys, *QUERY, "--store", slice_store, "--units", "metric")
    assert code == 0, err
    metric = pd.read_csv(io.StringIO(out))
    assert list(metric.columns) == ["time", "n1_pressure_m", "p227_flow_lps"]
    assert metric["p227_flow_lps"].to_numpy() == pytest.approx(si["p227_flow_m3s"].to_numpy() * 1000)
    code, out, _ = run(capsys, *QUERY, "--store", slice_store, "--units", "us,flow=MLD")
    us = pd.read_csv(io.StringIO(out))
    assert list(us.columns) == ["time", "n1_pressure_psi", "p227_flow_mld"]
    assert us["n1_pressure_psi"].to_numpy() == pytest.approx(si["n1_pressure_m"].to_numpy() / 0.70307)
    assert us["p227_flow_mld"].to_numpy() == pytest.approx(si["p227_flow_m3s"].to_numpy() * 86.4)


def test_deployment_default_from_the_environment(
    capsys: pytest.CaptureFixture[str], slice_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIRTA_DISPLAY_UNITS", "flow=m3/h")
    code, out, _ = run(capsys, *QUERY, "--store", slice_store)
    assert code == 0
    assert pd.read_csv(io.StringIO(out)).columns[-1] == "p227_flow_m3h"


def test_parquet_and_excel_files(
    capsys: pytest.CaptureFixture[str], slice_store: str, tmp_path: Path
) -> None:
    si = si_table(capsys, slice_store)
    pq = tmp_path / "r.parquet"
    code, _, err = run(capsys, *QUERY, "--store", slice_store, "--format", "parquet", "--out", str(pq))
    assert code == 0 and "12 rows" in err
    back = pd.read_parquet(pq)
    assert str(back["time"].dt.tz) == "UTC" and len(back) == 12
    assert back["n1_pressure_m"].to_numpy() == pytest.approx(si["n1_pressure_m"].to_numpy())
    xl = tmp_path / "r.xlsx"
    code, _, _ = run(
        capsys, *QUERY, "--store", slice_store, "--format", "xlsx", "--out", str(xl), "--units", "metric"
    )
    assert code == 0
    sheet = pd.read_excel(xl, sheet_name="readings")
    assert list(sheet.columns) == ["time_utc", "n1_pressure_m", "p227_flow_lps"]
    assert sheet["time_utc"].iloc[0] == pd.Timestamp("2020-12-18 00:00:00")


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        (("--units", "flow=bar"), "units"),
        (("--units", "imperial"), "units"),
        (("--format", "parquet"), "--out"),
        (("--format", "xml"), "--format"),
    ],
)
def test_bad_options_one_line(
    capsys: pytest.CaptureFixture[str], slice_store: str, extra: tuple[str, ...], field: str
) -> None:
    code, _, err = run(capsys, *QUERY, "--store", slice_store, *extra)
    assert code == 2
    assert f"field '{field}'" in err and err.count("\n") == 1, err


def test_unit_tags() -> None:
    assert [unit_tag(u) for u in ("L/s", "m3/h", "m3/d", "MLD", "gpm", "psi", "m")] == [
        "lps",
        "m3h",
        "m3d",
        "mld",
        "gpm",
        "psi",
        "m",
    ]
    assert display_units("") == display_units("si")
