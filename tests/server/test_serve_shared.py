"""Two real ``tirta serve`` processes on one PostgreSQL share users, keys, sessions, job history and
the nightly balance; a restart loses none of them."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

import tirta
from services import free_port
from tirta.api.store_users import USER
from tirta.server.scheduler import JOB_KIND
from tirta.telemetry.store import open_store

SRC = str(Path(tirta.__file__).resolve().parents[1])  # the tirta under test, in the subprocesses too
PASSWORD = "shared state pw"


def _cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tirta", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1", "PYTHONPATH": SRC},
        check=False,
    )


def _login(base: str) -> str:
    """Log in on one server through its form; the session token."""
    with httpx.Client(base_url=base, timeout=10) as client:
        page = client.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token is not None, page.text
        r = client.post(
            "/login",
            data={"username": "root", "password": PASSWORD, "csrf": token.group(1), "next": "/"},
        )
        assert r.status_code == 303, r.text
        return str(r.cookies["tirta_session"])


def _wait_json(url: str, headers: dict[str, str], ok, proc, timeout_s: float = 240.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        got = httpx.get(url, headers=headers, timeout=10)
        if got.status_code == 200 and ok(got.json()):
            return got.json()
        assert time.monotonic() < deadline, f"{url}: {got.text}\n{proc.output}"
        time.sleep(0.5)


@pytest.mark.service
@pytest.mark.slow
def test_two_servers_share_state_and_a_restart_loses_nothing(postgres_db, launch, http_ok, tmp_path):
    url = postgres_db
    added = _cli("users", "add", "root", "--role", "admin", "--store", url)  # creates the schema too
    assert added.returncode == 0, added.stderr
    admin = {"X-API-Key": added.stdout.strip().splitlines()[-1]}
    assert (
        _cli("users", "password", "root", "--store", url, stdin=f"{PASSWORD}\n{PASSWORD}\n").returncode
        == 0
    )
    # in 40–100 s: both servers must be up before that minute starts (else the job waits a day)
    nightly = (pd.Timestamp.now(tz="UTC") + pd.Timedelta(seconds=100)).strftime("%H:%M")
    env = {"PYTHONPATH": SRC, "TIRTA_NIGHTLY_AT": nightly, "TIRTA_BALANCE_DAYS": "1"}
    args = ["--detect-every", "1s", "--train-from", "2024-01-01", "--train-to", "2024-01-08"]
    ports = [free_port(), free_port()]
    procs = [launch("serve", "--store", url, "--port", p, *args, env=env) for p in ports]
    a, b = (f"http://127.0.0.1:{p}" for p in ports)
    for base, proc in zip((a, b), procs, strict=True):
        http_ok(f"{base}/api/v1/status", admin, proc)  # the key made by the CLI works on both

    # a user added through A is accepted by B; disabled through B, A refuses the key at once
    made = httpx.post(f"{a}/api/v1/users", json={"name": "op", "role": "operator"}, headers=admin)
    assert made.status_code == 201, made.text
    op = {"X-API-Key": made.json()["api_key"]}
    assert httpx.get(f"{b}/api/v1/status", headers=op, timeout=10).status_code == 200
    assert httpx.get(f"{a}/api/v1/status", headers=op, timeout=10).status_code == 200  # cached there
    assert httpx.delete(f"{b}/api/v1/users/op", headers=admin, timeout=10).status_code == 204
    assert httpx.get(f"{a}/api/v1/status", headers=op, timeout=10).status_code == 401
    users = httpx.get(f"{a}/api/v1/users", headers=admin, timeout=10).json()
    assert {(u["name"], u["active"]) for u in users} == {("root", True), ("op", False)}

    # a session opened on A opens pages on B
    session = {"tirta_session": _login(a)}
    page = httpx.get(f"{b}/", cookies=session, timeout=30)
    assert page.status_code == 200 and "root" in page.text
    assert httpx.get(f"{b}/", timeout=30).status_code in (302, 303, 307)  # no session: to /login

    # both run detection every second (it fails: no readings) and the nightly balance job once each:
    # one computes the night, the other finds the night claimed and skips it
    status = _wait_json(
        f"{b}/api/v1/status",
        admin,
        lambda s: s["jobs"]["nightly_balance"]["runs"] >= 2 and s["jobs"]["detect"]["runs"] >= 4,
        procs[1],
    )
    balance = httpx.get(f"{a}/api/v1/analytics/balance", headers=admin, timeout=10).json()
    assert set(balance["errors"]) and balance["dmas"] == {}  # no readings: each DMA says why
    assert httpx.get(f"{b}/api/v1/analytics/balance", headers=admin, timeout=10).json() == balance
    runs = status["jobs"]["nightly_balance"]["history"][:2]  # the store's: both processes' runs
    # no readings: the one that computed fails, saying why per DMA; the other skipped, without error
    assert sorted(r["error"] is None for r in runs) == [False, True], runs
    for proc in procs:
        assert proc.interrupt() == 0, proc.output

    # a restart: a new process without detection finds everything the others did
    port = free_port()
    again = launch("serve", "--store", url, "--port", port, env=env)
    c = f"http://127.0.0.1:{port}"
    after = http_ok(f"{c}/api/v1/status", admin, again).json()["jobs"]
    detect, night = after["detect"], after["nightly_balance"]
    assert detect["runs"] >= status["jobs"]["detect"]["runs"] and detect["failures"] == detect["runs"]
    assert detect["last_error"] and detect["history"][0]["error"] == detect["last_error"]
    assert detect["disabled"]  # this process does not run it: the history is the store's
    assert night["runs"] >= 2 and night["last_start"] == status["jobs"]["nightly_balance"]["last_start"]
    assert len(night["history"]) == night["runs"]
    assert httpx.get(f"{c}/api/v1/analytics/balance", headers=admin, timeout=10).json() == balance
    assert httpx.get(f"{c}/", cookies=session, timeout=30).status_code == 200  # session survives
    assert httpx.get(f"{c}/api/v1/status", headers=op, timeout=10).status_code == 401
    assert again.interrupt() == 0, again.output
    assert not list(tmp_path.glob("*.sqlite"))  # the processes' working directory: no users file
    with open_store(url) as store:  # it is all in PostgreSQL
        assert {r.key for r in store.records(USER)} == {"root", "op"}
        assert {r.key for r in store.records(JOB_KIND)} >= {"detect", "nightly_balance"}
