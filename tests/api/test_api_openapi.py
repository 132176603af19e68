"""The OpenAPI document says what the API does (issue 19 part 6): every status code an operation can
answer is declared with the error shape, parameters are as narrow as what is accepted, and every
credential sent must be valid. The live fuzzing is tests/api/test_api_contract.py."""

from __future__ import annotations

T0 = "2021-01-01T00:00:00Z"


def _doc(api) -> dict:
    return api.client.get("/api/v1/openapi.json").json()


def _op(doc: dict, path: str, method: str = "get") -> dict:
    return doc["paths"][f"/api/v1{path}"][method]


def test_every_error_an_operation_answers_is_declared_with_the_error_shape(api):
    doc = _doc(api)
    want = {
        ("/readings", "get"): {"400", "404"},
        ("/readings", "post"): {"400", "413", "415", "429"},
        ("/balance/dma/{name}", "get"): {"400", "404"},
        ("/balance/compute", "post"): {"400", "413", "415"},
        ("/events/{event_id}", "get"): {"404"},
        ("/events/{event_id}/{action}", "post"): {"400", "404", "409"},
        ("/users", "post"): {"400", "409"},
        ("/users/{name}", "delete"): {"404", "409"},
        ("/network/map", "get"): {"400"},
        ("/dashboard/sensors/{sensor}", "get"): {"404"},
    }
    for (path, method), codes in want.items():
        responses = _op(doc, path, method)["responses"]
        assert codes | {"401", "403", "422", "503"} <= set(responses), (path, method, set(responses))
        for code in codes:
            ref = responses[code]["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/ErrorPublic"), (path, code)


def test_parameters_are_as_narrow_as_what_is_accepted(api):
    doc = _doc(api)
    params = {p["name"]: p["schema"] for p in _op(doc, "/readings")["parameters"]}
    assert params["from"]["anyOf"] == [{"format": "date-time"}, {"format": "date"}]
    assert "pattern" in params["sensors"]
    dma = {p["name"]: p["schema"] for p in _op(doc, "/balance/dma/{name}")["parameters"]}
    assert dma["name"]["enum"] == ["A", "B", "C"]  # the DMAs of the configured network
    assert dma["scheme"]["enum"] and "wbi_developing" in dma["scheme"]["enum"]
    assert dma["from"]["pattern"].startswith("^")
    body = _op(doc, "/balance/compute", "post")["requestBody"]["content"]["application/json"]
    assert body["schema"]["additionalProperties"] is False
    assert set(body["schema"]["properties"]) == {"system", "volumes", "costs"}


def test_times_are_parsed_as_the_document_says(api):
    h = api.headers("viewer")
    ok = {"sensors": "n1", "layout": "long"}
    for good in (
        "2021-01-01",
        "2021-01-01T00:00:00Z",
        "2021-01-01T01:00:00+01:00",
        "0001-01-01T00:00:00Z",
    ):
        r = api.client.get(
            "/api/v1/readings", params={**ok, "from": good, "to": "2021-01-02"}, headers=h
        )
        assert r.status_code == 200, (good, r.text)
    for bad in ("false", "soon", "2021-02-30", "2021-01-01 10:00"):
        r = api.client.get("/api/v1/readings", params={**ok, "from": bad, "to": T0}, headers=h)
        assert r.status_code == 400 and r.json()["error"]["field"] == "from", (bad, r.text)
    empty = api.client.get(
        "/api/v1/readings", params={**ok, "from": "2021-01-02", "to": "2021-01-01"}, headers=h
    )
    assert empty.status_code == 200 and empty.json()["items"] == []
    far = api.client.get("/api/v1/network/map", params={"at": "0222-07-09T14:07:00Z"}, headers=h)
    assert far.status_code == 200, far.text  # was a 500: out of the timestamp range


def test_contradictory_values_are_422_inconsistent_input(api):
    h = api.headers("viewer")
    r = api.client.get("/api/v1/balance/dma/C", params={"from": "2021-03", "to": "2021-01"}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["type"] == "inconsistent_input"
    audit = {
        "system": {"mains_length_km": 10, "connections": 1000, "private_pipe_length_km": 0,
                   "average_pressure_m": 40},
        "volumes": {k: 0 for k in ("own_sources", "imported", "exported", "billed_metered",
                                   "billed_unmetered", "unbilled_metered",
                                   "customer_meter_under_registration_pct")},
    }  # fmt: skip
    r = api.client.post("/api/v1/balance/compute", json=audit, headers=h)
    assert r.status_code == 422 and r.json()["error"]["field"] == "volumes"
    r = api.client.get("/api/v1/balance/dma/C", params={"from": "2021-01", "to": "2021-01"}, headers=h)
    assert r.status_code == 404  # no readings: that balance does not exist


def test_405_lists_every_method_of_the_path(api):
    r = api.client.request("OPTIONS", "/api/v1/readings", headers=api.headers("viewer"))
    assert r.status_code == 405
    assert set(r.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}


def test_a_wrong_credential_is_refused_even_beside_a_good_one(api):
    good = api.keys["admin"]
    for headers in (
        {"X-API-Key": good, "Authorization": "garbage"},
        {"X-API-Key": good, "Authorization": "Bearer tirta_00000000_wrong"},
        {"X-API-Key": "tirta_00000000_wrong", "Authorization": f"Bearer {good}"},
    ):
        assert api.client.get("/api/v1/users", headers=headers).status_code == 401, headers
    assert api.client.get("/api/v1/users", headers={"X-API-Key": good}).status_code == 200


def test_an_admin_cannot_disable_their_own_account(api):
    h = api.headers("admin")
    r = api.client.delete("/api/v1/users/admin-1", headers=h)
    assert r.status_code == 409 and r.json()["error"]["field"] == "name"
    assert api.client.get("/api/v1/users", headers=h).status_code == 200
