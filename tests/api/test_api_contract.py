"""The API's contract, checked from outside: schemathesis' command-line runner, all checks, against a
real ``tirta serve`` process with a store and an admin key. Any failure (undocumented status code,
schema-valid request rejected, invalid one accepted, server error …) fails the test."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import tirta
from services import free_port
from tirta.api.users import UserStore
from tirta.leaks.events import open_event
from tirta.network import load_sensors
from tirta.network.model import builtin_network_path
from tirta.telemetry.store import open_store

HERE = Path(__file__).parent
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


def _serve(root: Path, port: int) -> tuple[subprocess.Popen[bytes], str]:
    """``tirta serve`` of this source tree over a store with L-Town's sensors and an event."""
    url = f"duckdb:///{root / 'store.duckdb'}"
    with open_store(url) as store:
        store.add_sensors(load_sensors(builtin_network_path("l-town").with_name("sensors.json")))
        open_event(store, detected_at="2021-01-02", start=None, size_lps=1.0, candidates=[], dma="A")
    users = root / "users.sqlite"
    key = UserStore(users).add_user("fuzz-admin", "admin")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(Path(tirta.__file__).parents[1]),  # the tree under test, not an install
    }
    cmd = [sys.executable, "-m", "tirta", "serve", "--store", url, "--users-db", str(users)]
    log = (root / "serve.log").open("wb")
    proc = subprocess.Popen([*cmd, "--port", str(port)], env=env, stdout=log, stderr=log)
    return proc, key


@pytest.mark.slow
@pytest.mark.service
def test_schemathesis_finds_no_failure_against_a_live_server(tmp_path: Path) -> None:
    assert SCHEMATHESIS.is_file(), "schemathesis is a dev dependency: pip install -e '.[dev]'"
    port = free_port()
    proc, key = _serve(tmp_path, port)
    try:
        run = subprocess.run(
            [
                str(SCHEMATHESIS), "--config-file", str(HERE / "schemathesis.toml"), "--no-color",
                "run", f"http://127.0.0.1:{port}/api/v1/openapi.json", "--wait-for-schema", "90",
                "-H", f"X-API-Key: {key}", "--checks", "all", "--max-examples", "8", "--seed", "19",
                "--no-shrink", "--workers", "1", "--request-timeout", "60",
                # the event stream never ends, so a fuzzer waits out every request on it; its
                # content type and auth are tested in tests/web/test_live.py, its messages in
                # tests/server/test_serve_live.py
                "--exclude-path", "/api/v1/stream",
            ],
            capture_output=True, text=True, timeout=600, cwd=tmp_path,
        )  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(30)
    out = run.stdout + run.stderr
    log = (tmp_path / "serve.log").read_text(errors="replace")
    selected = re.search(r"Selected: (\d+)/", out)
    assert selected and f"Tested: {selected.group(1)}" in out, out  # every operation was exercised
    assert run.returncode == 0, f"{out}\n--- server log (tail) ---\n{log[-4000:]}"
