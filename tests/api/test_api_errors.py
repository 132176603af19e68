"""One error shape for every failure; unexpected errors are 500 without internals."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tirta.api import create_app
from tirta.errors import ModelError, StoreError

SHAPE_KEYS = {"type", "message", "file", "line", "field"}


def _is_error(body: dict) -> bool:
    return set(body) == {"error"} and {"type", "message"} <= set(body["error"]) <= SHAPE_KEYS


def test_http_errors_share_the_shape(api):
    h = api.headers("viewer")
    for r, code in [
        (api.client.get("/api/v1/nothing-here", headers=h), 404),
        (api.client.put("/api/v1/sensors", headers=h), 405),
        (api.client.get("/api/v1/readings", params={"sensors": "n1"}, headers=h), 422),
        (
            api.client.get(
                "/api/v1/readings", params={"sensors": "n1", "from": "x", "to": "y"}, headers=h
            ),
            400,
        ),
        (api.client.get("/api/v1/sensors"), 401),
        (api.client.get("/api/v1/users", headers=h), 403),
    ]:
        assert r.status_code == code, r.text
        assert _is_error(r.json()), r.text
    missing = api.client.get("/api/v1/readings", params={"sensors": "n1"}, headers=h).json()
    assert missing["error"]["field"] == "from"


def test_unexpected_errors_are_500_with_nothing_inside(tmp_path, settings_for, caplog):
    app = create_app(settings_for(f"duckdb:///{tmp_path / 's.duckdb'}"))

    @app.get("/api/v1/boom")
    def boom() -> None:
        raise RuntimeError("password=hunter2 at /srv/secret/path.py")

    @app.get("/api/v1/store-down")
    def store_down() -> None:
        raise StoreError("cannot connect to postgresql://tirta:pw@db.internal:5432/tirta")

    @app.get("/api/v1/model")
    def model() -> None:
        raise ModelError("the model has no coordinates", file="net.inp", line=3)

    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/api/v1/boom")
        assert r.status_code == 500
        assert r.json() == {"error": {"type": "internal_error", "message": "internal server error"}}
        assert "hunter2" not in r.text and "Traceback" not in r.text
        r = client.get("/api/v1/store-down")
        assert r.status_code == 503 and _is_error(r.json())
        assert "db.internal" not in r.text and "pw" not in r.text
        r = client.get("/api/v1/model")
        assert r.status_code == 422
        assert r.json() == {
            "error": {
                "type": "model_error",
                "message": "the model has no coordinates",
                "file": "net.inp",
                "line": 3,
            }
        }
    assert "RuntimeError" in caplog.text  # the cause is logged on the server


def test_no_app_is_built_at_import():
    import tirta.api as api_pkg
    import tirta.api.app as app_mod

    assert not any(type(v).__name__ == "FastAPI" for v in vars(app_mod).values())
    assert not any(type(v).__name__ == "FastAPI" for v in vars(api_pkg).values())
