"""``/api/v1/quarantine``: rows carry their key and file line; operators release or drop them by key or
by reason (audited with their name); viewers are refused."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tirta.network.sensors import make_sensor
from tirta.telemetry import review
from tirta.telemetry.ingest import ingest_file


def test_release_and_drop_through_the_api(api, tmp_path: Path) -> None:
    client, keys = api.client, api.keys
    path = tmp_path / "x.csv"
    path.write_text(
        "sensor,time,value,unit\nzz,2024-01-01T00:05:00Z,2.5,bar\nq9,2024-01-01T00:05:00Z,1,m\n"
    )
    store = client.app.state.tirta.store  # the app's own store handle (DuckDB allows one writer)
    ingest_file(store, path, now=pd.Timestamp("2024-02-01", tz="UTC"))
    op = {"Authorization": f"Bearer {keys['operator']}"}
    rows = client.get("/api/v1/quarantine?limit=100", headers=op).json()["items"]
    mine = [r for r in rows if r["source"].endswith("x.csv")]
    assert {r["line"] for r in mine} == {2, 3} and all(len(r["key"]) == 32 for r in mine)
    viewer = {"Authorization": f"Bearer {keys['viewer']}"}
    assert (
        client.post(
            "/api/v1/quarantine/drop", json={"reason": "unknown sensor"}, headers=viewer
        ).status_code
        == 403
    )
    q9 = next(r["key"] for r in mine if r["sensor"] == "q9")
    r = client.post(
        "/api/v1/quarantine/drop", json={"keys": [q9], "note": "never installed"}, headers=op
    )
    assert r.status_code == 200 and r.json()["dropped"] == 1
    store.add_sensors([make_sensor({"id": "zz", "kind": "pressure", "unit": "bar"})])
    r = client.post("/api/v1/quarantine/release", json={"sensor": "zz"}, headers=op)
    assert r.status_code == 200 and r.json()["stored"] == 1
    assert client.post("/api/v1/quarantine/release", json={}, headers=op).status_code == 422
    assert (
        client.post("/api/v1/quarantine/drop", json={"keys": ["0" * 32]}, headers=op).status_code == 404
    )
    assert {a["who"] for a in review.audit_log(store)} == {"operator-1"}
