"""Per-KPI sanity warnings (issue 19 part 4): impossible NRW, negative losses, ILI < 1 and consumption
extrapolated from a small meter sample flag the KPIs they make untrustworthy."""

from __future__ import annotations

import pytest

from tirta.balance import audit_report, parse_audit, run_audit
from tirta.balance.sanity import (
    FLAGGED_KPIS,
    kpi_warnings,
    merge_warnings,
    min_sample_fraction,
    sample_warning,
)


def test_plausible_kpis_carry_no_warning():
    assert kpi_warnings(23.0, 1.2e6, 4.5) == {}
    assert kpi_warnings(None, None, None) == {}


def test_each_check_flags_the_kpis_it_makes_untrustworthy():
    flags = kpi_warnings(-10060.0, -6.2e6, -7325.0)
    assert set(flags) == set(FLAGGED_KPIS)
    assert "outside 0–100 %" in flags["nrw_pct"][0]
    assert "negative" in flags["real_losses"][0] and "negative" in flags["real_losses_l_per_conn_day"][0]
    assert any("below the technical minimum" in w for w in flags["ili"])
    assert set(kpi_warnings(130.0, 5.0, 2.0)) == {"nrw_pct"}
    assert set(kpi_warnings(20.0, 5.0, 0.4)) == {"ili"}


def test_a_small_meter_sample_flags_every_kpi():
    assert min_sample_fraction() == pytest.approx(0.1)
    text = sample_warning(6, 3000)
    assert text is not None and "6 meters to 3000 connections (0.2 % metered" in text
    assert sample_warning(300, 3000) is None  # 10 %: enough
    assert sample_warning(82, 92) is None
    flags = kpi_warnings(20.0, 100.0, 2.0, [text])
    assert all(flags[k] == [text] for k in FLAGGED_KPIS)


def test_zone_warnings_merge_with_their_names():
    merged = merge_warnings({"DMA A": {"ili": ["x"]}, "DMA C": {"ili": ["y"], "nrw_pct": ["z"]}})
    assert merged == {"ili": ["DMA A: x", "DMA C: y"], "nrw_pct": ["DMA C: z"]}


def test_an_audit_report_carries_its_kpi_warnings():
    doc = {
        "system": {"mains_length_km": 10, "connections": 3000, "private_pipe_length_km": 0,
                   "average_pressure_m": 40, "days": 30},
        "volumes": {"own_sources": 1000, "imported": 0, "exported": 0, "billed_metered": 5000,
                    "billed_unmetered": 0, "unbilled_metered": 0,
                    "customer_meter_under_registration_pct": 2},
    }  # fmt: skip
    report = audit_report(run_audit(parse_audit(doc)))
    assert report["nrw_pct"] < 0
    assert set(report["kpi_warnings"]) == set(FLAGGED_KPIS)


BAD_AUDIT = """\
[system]
mains_length_km = 10
connections = 3000
private_pipe_length_km = 0
average_pressure_m = 40
days = 30

[volumes]
own_sources = 1000
imported = 0
exported = 0
billed_metered = 5000
billed_unmetered = 0
unbilled_metered = 0
customer_meter_under_registration_pct = 2
"""


def test_the_cli_prints_each_flagged_kpi_with_its_warning(tmp_path):
    from typer.testing import CliRunner

    from tirta.cli import app

    audit = tmp_path / "audit.toml"
    audit.write_text(BAD_AUDIT, encoding="utf-8")
    r = CliRunner().invoke(app, ["balance", "compute", str(audit)], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "warning: nrw_pct: NRW -400.0 % is outside 0–100 % of the system input" in r.output
    assert "warning: ili: real losses are negative" in r.output
    assert "-400.00 ⚠" in r.output
