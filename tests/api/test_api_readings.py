"""Readings through the API: ingest JSON, SenML and CSV, read wide and long pages, quarantine, limits."""

from __future__ import annotations

import json

import pytest

T0 = "2021-01-01T00:00:00Z"


def test_ingest_json_then_read_wide_and_long(api):
    body = [
        {"sensor": "n1", "t": T0, "v": 4.0, "unit": "bar"},
        {"sensor": "n1", "t": "2021-01-01T00:05:00Z", "v": 4.5, "unit": "bar"},
        {"sensor": "p227", "t": T0, "v": 36.0, "unit": "m3/h"},
    ]
    r = api.client.post("/api/v1/readings", json=body, headers=api.headers("operator"))
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 3, "duplicate": 0, "quarantined": 0, "reasons": {}}

    q = {"sensors": "n1,p227", "from": "2021-01-01", "to": "2021-01-02"}
    wide = api.client.get("/api/v1/readings", params=q, headers=api.headers("viewer")).json()
    assert wide["columns"] == {"n1": "n1_pressure_m", "p227": "p227_flow_m3s"}
    assert wide["total"] == 2 and wide["next_offset"] is None
    first, second = wide["items"]
    assert first["time"] == T0
    assert first["n1_pressure_m"] == pytest.approx(4.0 * 100_000 / (999.97 * 9.80665), rel=1e-3)
    assert first["p227_flow_m3s"] == pytest.approx(0.01)
    assert second["p227_flow_m3s"] is None  # no reading: null, not NaN

    long = api.client.get(
        "/api/v1/readings", params={**q, "layout": "long"}, headers=api.headers("viewer")
    ).json()
    assert [(i["sensor"], i["time"]) for i in long["items"]] == [
        ("n1", T0),
        ("p227", T0),
        ("n1", "2021-01-01T00:05:00Z"),
    ]

    again = api.client.post("/api/v1/readings", json=body, headers=api.headers("operator")).json()
    assert again["accepted"] == 0 and again["duplicate"] == 3


def test_senml_and_csv_bodies_and_resampled_pages(api, make_csv):
    senml = [
        {"bn": "n", "bt": 1609459200, "bu": "m"},
        {"n": "4", "v": 50.0},
        {"n": "31", "v": 51.0, "t": 300},
    ]
    r = api.client.post(
        "/api/v1/readings",
        content=json.dumps(senml),
        headers={**api.headers("operator"), "content-type": "application/senml+json"},
    )
    assert r.json()["accepted"] == 2, r.text

    csv = make_csv({"T1": (3.0, "m")}, "2021-01-01", "2021-01-02")
    r = api.client.post(
        "/api/v1/readings", content=csv, headers={**api.headers("operator"), "content-type": "text/csv"}
    )
    assert r.json() == {"accepted": 288, "duplicate": 0, "quarantined": 0, "reasons": {}}

    q = {"sensors": "T1", "from": "2021-01-01", "to": "2021-01-02", "every": "1h", "limit": 10}
    p1 = api.client.get("/api/v1/readings", params=q, headers=api.headers("viewer")).json()
    assert (p1["total"], len(p1["items"]), p1["next_offset"]) == (24, 10, 10)
    p3 = api.client.get(
        "/api/v1/readings", params={**q, "offset": 20}, headers=api.headers("viewer")
    ).json()
    assert p3["items"][0]["time"] == "2021-01-01T20:00:00Z"
    assert p3["next_offset"] is None and len(p3["items"]) == 4


def test_rejected_readings_and_bad_bodies_reach_the_quarantine(api):
    h = api.headers("operator")
    body = [
        {"sensor": "n1", "t": T0, "v": 4.0, "unit": "bar"},
        {"sensor": "nope", "t": T0, "v": 1.0, "unit": "m"},
        {"sensor": "n1", "t": "yesterday-ish", "v": 1.0, "unit": "m"},
    ]
    r = api.client.post("/api/v1/readings", json=body, headers=h).json()
    assert r["accepted"] == 1 and r["quarantined"] == 2
    assert r["reasons"] == {"bad timestamp": 1, "unknown sensor": 1}

    bad = api.client.post(
        "/api/v1/readings", content=b"{not json", headers={**h, "content-type": "application/json"}
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["type"] == "input_error"
    assert "quarantine" in bad.json()["error"]["message"]

    short = api.client.post(
        "/api/v1/readings",
        content="sensor,time,value,unit\nn1,2021-01-01T00:00:00Z,4\n",
        headers={**h, "content-type": "text/csv"},
    )
    assert short.status_code == 200  # a short line is quarantined as in a file, not the body refused
    assert short.json()["reasons"] == {"malformed row": 1}

    page = api.client.get(
        "/api/v1/quarantine", params={"limit": 2}, headers=api.headers("viewer")
    ).json()
    assert page["total"] == 4 and len(page["items"]) == 2 and page["next_offset"] == 2
    rest = api.client.get(
        "/api/v1/quarantine", params={"limit": 2, "offset": 2}, headers=api.headers("viewer")
    ).json()
    reasons = {i["reason"] for i in page["items"] + rest["items"]}
    assert reasons == {"unknown sensor", "bad timestamp", "malformed payload", "malformed row"}
    [row] = [i for i in page["items"] + rest["items"] if i["reason"] == "malformed row"]
    assert '"line": "2"' in row["payload"] and "'unit' missing" in row["detail"]
    assert any(i["source"] == "http:operator-1" for i in rest["items"] + page["items"])


def test_unknown_sensor_is_404_and_bad_time_400_with_the_field(api):
    h = api.headers("viewer")
    r = api.client.get("/api/v1/readings", params={"sensors": "zz", "from": T0, "to": T0}, headers=h)
    assert r.status_code == 404
    assert r.json() == {
        "error": {"type": "not_found", "message": "unknown sensor 'zz'", "field": "sensors"}
    }
    r = api.client.get("/api/v1/readings", params={"sensors": "n1", "from": "soon", "to": T0}, headers=h)
    assert r.status_code == 400 and r.json()["error"]["field"] == "from"


def test_unsupported_content_type_is_415(api):
    r = api.client.post(
        "/api/v1/readings",
        content=b"<x/>",
        headers={**api.headers("operator"), "content-type": "text/xml"},
    )
    assert r.status_code == 415 and r.json()["error"]["type"] == "unsupported_media_type"


def test_oversize_body_is_413_and_stores_nothing(tmp_path, settings_for, start_api, make_csv):
    cfg = settings_for(f"duckdb:///{tmp_path / 's.duckdb'}", max_body_bytes=2_000)
    with start_api(cfg) as api:
        big = make_csv({"T1": (3.0, "m")}, "2021-01-01", "2021-01-02")
        assert len(big) > 2_000
        h = {**api.headers("operator"), "content-type": "text/csv"}
        r = api.client.post("/api/v1/readings", content=big, headers=h)
        assert r.status_code == 413
        assert r.json()["error"]["type"] == "payload_too_large"

        def chunks():  # no Content-Length: the limit still holds
            for i in range(0, len(big), 500):
                yield big[i : i + 500].encode()

        r = api.client.post("/api/v1/readings", content=chunks(), headers=h)
        assert r.status_code == 413
        small = make_csv({"T1": (3.0, "m")}, "2021-01-01", "2021-01-01T01:00")
        assert api.client.post("/api/v1/readings", content=small, headers=h).json()["accepted"] == 12
        q = {"sensors": "T1", "from": "2021-01-01", "to": "2021-01-02"}
        assert api.client.get("/api/v1/readings", params=q, headers=h).json()["total"] == 12


def test_ingest_rate_limit_per_key_is_429(tmp_path, settings_for, start_api):
    cfg = settings_for(f"duckdb:///{tmp_path / 's.duckdb'}", ingest_per_minute=3)
    with start_api(cfg) as api:
        one = [{"sensor": "n1", "t": T0, "v": 40.0, "unit": "m"}]
        codes = [
            api.client.post("/api/v1/readings", json=one, headers=api.headers("operator")).status_code
            for _ in range(4)
        ]
        assert codes == [200, 200, 200, 429]
        r = api.client.post("/api/v1/readings", json=one, headers=api.headers("operator"))
        assert r.json()["error"]["type"] == "rate_limited" and int(r.headers["retry-after"]) >= 1
        # another key has its own bucket
        assert (
            api.client.post("/api/v1/readings", json=one, headers=api.headers("admin")).status_code
            == 200
        )
        # reads are not limited
        q = {"sensors": "n1", "from": "2021-01-01", "to": "2021-01-02"}
        assert (
            api.client.get("/api/v1/readings", params=q, headers=api.headers("operator")).status_code
            == 200
        )


@pytest.mark.service
def test_ingest_and_read_on_postgresql(postgres_db, settings_for, start_api, make_csv):
    with start_api(settings_for(postgres_db)) as api:
        csv = make_csv({"p227": (36.0, "m3/h"), "n1": (40.0, "m")}, "2021-01-01", "2021-01-01T02:00")
        h = api.headers("operator")
        r = api.client.post("/api/v1/readings", content=csv, headers={**h, "content-type": "text/csv"})
        assert r.json() == {"accepted": 48, "duplicate": 0, "quarantined": 0, "reasons": {}}
        q = {"sensors": "p227,n1", "from": "2021-01-01", "to": "2021-01-02", "every": "1h"}
        wide = api.client.get("/api/v1/readings", params=q, headers=h).json()
        assert [i["time"] for i in wide["items"]] == ["2021-01-01T00:00:00Z", "2021-01-01T01:00:00Z"]
        assert all(i["p227_flow_m3s"] == pytest.approx(0.01) for i in wide["items"])
        assert all(i["n1_pressure_m"] == pytest.approx(40.0) for i in wide["items"])
