"""Water balance through the API: an audit as TOML or JSON, and a DMA's months from stored meters."""

from __future__ import annotations

import tomllib

import pytest

from tirta.balance import audit_report, parse_audit, run_audit

AUDIT_TOML = """\
[system]
mains_length_km = 12600
connections = 1178022
private_pipe_length_km = 5890.1
average_pressure_m = 15

[volumes]
own_sources = { value = 600e6, margin_pct = 2 }
imported = 0
exported = 0
billed_metered = { value = 320e6, margin_pct = 1 }
billed_unmetered = { value = 4e6, margin_pct = 10 }
unbilled_metered = { value = 2e6, margin_pct = 5 }
unbilled_unmetered = { pct_of_supplied = 1.25, margin_pct = 30 }
unauthorised = { pct_of_supplied = 2, margin_pct = 50 }
customer_meter_under_registration_pct = { value = 5, margin_pct = 30 }
data_handling_errors = { pct_of_billed_metered = 0.25, margin_pct = 50 }
"""


def test_compute_from_toml_and_json_agree_with_the_domain(api):
    h = api.headers("viewer")
    toml = api.client.post(
        "/api/v1/balance/compute", content=AUDIT_TOML, headers={**h, "content-type": "application/toml"}
    )
    assert toml.status_code == 200, toml.text
    doc = tomllib.loads(AUDIT_TOML)
    as_json = api.client.post("/api/v1/balance/compute", json=doc, headers=h)
    assert as_json.json() == toml.json()
    expected = audit_report(run_audit(parse_audit(doc)))
    out = toml.json()
    assert out["system_input_volume"] == pytest.approx(600e6)
    assert out["nrw_pct"] == pytest.approx(expected["nrw_pct"])
    assert out["real_losses"] == pytest.approx(expected["real_losses"])
    assert out["ili"] == pytest.approx(expected["ili"])
    assert out["band"] == expected["band"]


def test_compute_errors_name_the_key(api):
    h = {**api.headers("viewer"), "content-type": "application/toml"}
    broken = AUDIT_TOML.replace("imported = 0\n", "")
    r = api.client.post("/api/v1/balance/compute", content=broken, headers=h)
    assert r.status_code == 400
    assert r.json()["error"]["field"] == "volumes.imported"
    assert r.json()["error"]["type"] == "input_error"
    r = api.client.post("/api/v1/balance/compute", content="[system", headers=h)
    assert r.status_code == 400 and "TOML" in r.json()["error"]["message"]
    r = api.client.post(
        "/api/v1/balance/compute", params={"scheme": "nope"}, content=AUDIT_TOML, headers=h
    )
    assert r.status_code == 400 and r.json()["error"]["field"] == "scheme"
    r = api.client.post("/api/v1/balance/compute", json=[1, 2], headers=api.headers("viewer"))
    assert r.status_code == 400


@pytest.mark.slow
def test_dma_balance_from_the_store(api, make_csv):
    """DMA C: PUMP_1 at 36 m³/h (0.01 m³/s), tank T1 level steady, n1 at 40 m, all of January."""
    csv = make_csv(
        {"PUMP_1": (36.0, "m3/h"), "T1": (3.0, "m"), "n1": (40.0, "m")}, "2021-01-01", "2021-02-01"
    )
    h = {**api.headers("operator"), "content-type": "text/csv"}
    assert api.client.post("/api/v1/readings", content=csv, headers=h).json()["accepted"] == 3 * 8928
    r = api.client.get(
        "/api/v1/balance/dma/C",
        params={"from": "2021-01", "to": "2021-01"},
        headers=api.headers("viewer"),
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["dma"] == "C"
    (month,) = out["months"]
    assert month["period"] == "2021-01"
    # 0.01 m³/s over January; the tank term has no value at the first reading, so one 5-min step less
    assert month["inflow_m3"] == pytest.approx(0.01 * 300 * (8928 - 1), rel=1e-9)
    assert out["total"]["inflow_m3"] == pytest.approx(month["inflow_m3"])


@pytest.mark.slow
def test_dma_balance_uses_the_billing_file_of_the_settings(tmp_path, settings_for, start_api, make_csv):
    """With TIRTA_BILLING (settings.billing) the DMA balance takes consumption from the bills: DMA C
    billed 9,999 m³ in January against 0.01 m³/s of inflow, so NRW is the rest (dashboard alike)."""
    bills = tmp_path / "billing.csv"
    bills.write_text("account,dma,period,billed_m3,metered\nc-1,C,2021-01,9999,yes\n", encoding="utf-8")
    url = f"duckdb:///{tmp_path / 's.duckdb'}"
    with start_api(settings_for(url, billing=bills)) as api:
        csv = make_csv(
            {"PUMP_1": (36.0, "m3/h"), "T1": (3.0, "m"), "n1": (40.0, "m")}, "2021-01-01", "2021-02-01"
        )
        h = {**api.headers("operator"), "content-type": "text/csv"}
        assert api.client.post("/api/v1/readings", content=csv, headers=h).status_code == 200
        r = api.client.get(
            "/api/v1/balance/dma/C",
            params={"from": "2021-01", "to": "2021-01"},
            headers=api.headers("viewer"),
        )
    assert r.status_code == 200, r.text
    (month,) = r.json()["months"]
    inflow = 0.01 * 300 * (8928 - 1)
    assert month["inflow_m3"] == pytest.approx(inflow, rel=1e-9)
    billed = 9999 * (8928 - 1) / 8928  # the bill prorated to the covered time, like the inflow
    assert month["nrw_pct"] == pytest.approx(100 * (inflow - billed) / inflow, rel=1e-6)


def test_dma_balance_errors(api):
    h = api.headers("viewer")
    r = api.client.get("/api/v1/balance/dma/Z", params={"from": "2021-01", "to": "2021-01"}, headers=h)
    assert r.status_code == 404 and "unknown DMA 'Z'" in r.json()["error"]["message"]
    r = api.client.get("/api/v1/balance/dma/C", params={"from": "2021-13", "to": "2021-01"}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["type"] == "validation_error"  # not a month
    r = api.client.get("/api/v1/balance/dma/C", params={"from": "2021-01", "to": "2021-01"}, headers=h)
    assert r.status_code == 404 and "no readings of the inflow meters" in r.json()["error"]["message"]


def test_public_kpis_from_a_published_audit(tmp_path, settings_for, start_api):
    audit = tmp_path / "audit.toml"
    audit.write_text(AUDIT_TOML, encoding="utf-8")
    with start_api(settings_for(f"duckdb:///{tmp_path / 's.duckdb'}", audit_file=audit)) as api:
        body = api.client.get("/api/v1/public/kpis").json()
    expected = audit_report(run_audit(parse_audit(tomllib.loads(AUDIT_TOML))))
    assert body["nrw_pct"] == pytest.approx(expected["nrw_pct"])
    assert body["real_losses_m3"] == pytest.approx(expected["real_losses"])
    assert body["source"] == "published water audit" and body["open_leaks"] == 0
    assert str(tmp_path) not in str(body)
