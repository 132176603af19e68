"""Access control: 401 without or with a wrong key, 403 below the role, secrets hashed and never shown."""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tirta.api import UserStore
from tirta.api.auth import split_key
from tirta.cli import app as cli_app
from tirta.cli.serve import check_exposure, is_loopback
from tirta.errors import InputError

T0 = "2021-01-01T00:00:00Z"
# /api/v1/public/nrw-trend comes with the dashboard (tirta.web.install_web)
PUBLIC = {"/api/v1/public/kpis", "/api/v1/public/nrw-trend", "/api/v1/openapi.json"}
PUBLIC |= {"/api/v1/waste/public"}  # tirta.waste's transparency figures
PUBLIC |= {f"/api/v1/public/{n}.{x}" for n in ("kpis", "dma-nrw") for x in ("csv", "json")}  # open data


def _operations(api) -> list[tuple[str, str]]:
    spec = api.client.get("/api/v1/openapi.json").json()
    out = []
    for path, item in spec["paths"].items():
        for method in item:
            concrete = (
                path.replace("{event_id}", "1").replace("{name}", "A").replace("{action}", "close")
            )
            out.append((method.upper(), concrete))
    return out


def test_every_operation_but_public_ones_needs_a_key(api):
    ops = _operations(api)
    assert len(ops) >= 14
    for method, path in ops:
        r = api.client.request(method, path)
        if path in PUBLIC:
            assert r.status_code == 200, path
            continue
        assert r.status_code == 401, (method, path, r.text)
        assert r.json()["error"]["type"] == "unauthorized"
        assert r.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "header",
    [
        {"Authorization": "Bearer nonsense"},
        {"X-API-Key": "tirta_00000000_not-the-secret"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
)
def test_wrong_keys_are_401(api, header):
    r = api.client.get("/api/v1/sensors", headers=header)
    assert r.status_code == 401 and r.json()["error"]["type"] == "unauthorized"


def test_a_real_key_id_with_a_wrong_secret_is_401(api):
    key_id, _ = split_key(api.keys["admin"])
    r = api.client.get("/api/v1/users", headers={"X-API-Key": f"tirta_{key_id}_guessed"})
    assert r.status_code == 401
    assert api.client.get("/api/v1/users", headers={"X-API-Key": api.keys["admin"]}).status_code == 200


def test_each_role_does_exactly_what_it_should(api):
    one = [{"sensor": "n1", "t": T0, "v": 40.0, "unit": "m"}]
    q = {"sensors": "n1", "from": "2021-01-01", "to": "2021-01-02"}
    expect = {
        # (method, path, kwargs): status for viewer, operator, admin
        ("GET", "/api/v1/sensors", None): (200, 200, 200),
        ("GET", "/api/v1/readings", "q"): (200, 200, 200),
        ("GET", "/api/v1/quarantine", None): (200, 200, 200),
        ("GET", "/api/v1/events", None): (200, 200, 200),
        ("POST", "/api/v1/readings", "json"): (403, 200, 200),
        ("GET", "/api/v1/users", None): (403, 403, 200),
        ("POST", "/api/v1/users/viewer-1/keys", None): (403, 403, 201),
    }
    for (method, path, kind), codes in expect.items():
        for role, code in zip(("viewer", "operator", "admin"), codes, strict=True):
            kwargs = {"params": q} if kind == "q" else {"json": one} if kind == "json" else {}
            r = api.client.request(method, path, headers=api.headers(role), **kwargs)
            assert r.status_code == code, (method, path, role, r.text)
            if code == 403:
                assert r.json()["error"]["type"] == "forbidden"


def test_admin_manages_users_and_keys_are_shown_once(api, caplog):
    caplog.set_level(logging.DEBUG)
    admin = api.headers("admin")
    r = api.client.post("/api/v1/users", json={"name": "carol", "role": "operator"}, headers=admin)
    assert r.status_code == 201
    key = r.json()["api_key"]
    assert r.json()["role"] == "operator"
    carol = {"X-API-Key": key}
    one = [{"sensor": "n1", "t": T0, "v": 40.0, "unit": "m"}]
    assert api.client.post("/api/v1/readings", json=one, headers=carol).status_code == 200
    assert api.client.get("/api/v1/users", headers=carol).status_code == 403

    listing = api.client.get("/api/v1/users", headers=admin)
    assert {u["name"]: u["role"] for u in listing.json()} == {
        "admin-1": "admin",
        "carol": "operator",
        "operator-1": "operator",
        "viewer-1": "viewer",
    }
    dup = api.client.post("/api/v1/users", json={"name": "carol", "role": "viewer"}, headers=admin)
    assert dup.status_code == 409 and dup.json()["error"]["field"] == "name"
    bad_role = api.client.post("/api/v1/users", json={"name": "dan", "role": "root"}, headers=admin)
    assert bad_role.status_code == 422 and bad_role.json()["error"]["field"] == "role"

    assert api.client.delete("/api/v1/users/carol", headers=admin).status_code == 204
    assert api.client.get("/api/v1/sensors", headers=carol).status_code == 401  # revoked at once
    assert api.client.delete("/api/v1/users/nobody", headers=admin).status_code == 404

    secrets = [key, *api.keys.values()]
    secret_parts = [split_key(k)[1] for k in secrets]
    for text in (listing.text, caplog.text):
        for s in secrets + secret_parts:
            assert s not in text
    assert "carol" in caplog.text  # the audit log names users, not keys


def test_secrets_are_hashed_at_rest(api):
    raw = Path(api.settings.users_db).read_bytes()
    with sqlite3.connect(api.settings.users_db) as con:
        rows = con.execute("SELECT key_id, salt, digest FROM api_keys").fetchall()
    assert len(rows) == 3
    for key in api.keys.values():
        key_id, secret = split_key(key)
        assert secret.encode() not in raw and key.encode() not in raw
        assert key_id in {r[0] for r in rows}
    assert len({r[1] for r in rows}) == 3  # one salt per key


def test_no_secret_in_logs_on_failed_and_good_requests(api, caplog):
    caplog.set_level(logging.DEBUG)
    api.client.get("/api/v1/users", headers=api.headers("admin"))
    api.client.get("/api/v1/users", headers=api.headers("viewer"))
    wrong = api.keys["admin"][:-4] + "AAAA"
    r = api.client.get("/api/v1/users", headers={"X-API-Key": wrong})
    assert r.status_code == 401 and wrong not in r.text
    for key in [*api.keys.values(), wrong]:
        assert split_key(key)[1] not in caplog.text


def test_cli_users_add_prints_a_working_key_once(tmp_path):
    db = tmp_path / "u.sqlite"
    result = CliRunner().invoke(
        cli_app, ["users", "add", "erin", "--role", "operator", "--users-db", str(db)]
    )
    assert result.exit_code == 0, result.output
    key = result.stdout.strip().splitlines()[-1]
    who = UserStore(db).authenticate(key)
    assert who is not None and (who.user, who.role) == ("erin", "operator")
    listing = CliRunner().invoke(cli_app, ["users", "list", "--users-db", str(db)])
    assert "erin" in listing.stdout and split_key(key)[1] not in listing.stdout


def test_cli_users_add_rejects_an_unknown_role(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tirta",
            "users",
            "add",
            "x",
            "--role",
            "boss",
            "--users-db",
            str(tmp_path / "u"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "unknown role 'boss'" in proc.stderr and "Traceback" not in proc.stderr


def test_serve_refuses_an_open_host_without_an_admin(tmp_path, settings_for):
    cfg = settings_for(f"duckdb:///{tmp_path / 's.duckdb'}")
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    check_exposure("127.0.0.1", cfg)  # the demo on loopback needs no admin
    with pytest.raises(InputError, match="without an admin"):
        check_exposure("0.0.0.0", cfg)
    UserStore(cfg.users_db).add_user("viewer-only", "viewer")
    with pytest.raises(InputError):
        check_exposure("0.0.0.0", cfg)
    UserStore(cfg.users_db).add_user("root", "admin")
    check_exposure("0.0.0.0", cfg)

    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tirta",
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            "1",
            "--store",
            f"duckdb:///{tmp_path / 'other.duckdb'}",
            "--users-db",
            str(tmp_path / "none.sqlite"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "refusing to serve on 0.0.0.0 without an admin user" in proc.stderr
