"""deploy/stack.py really starts a city deployment on this machine: PostgreSQL, Mosquitto, a Dask
scheduler with two workers, two ingesters sharing a subscription and ``tirta serve``; readings
published to the broker land once in PostgreSQL, the API answers, a killed ingester is restarted,
and SIGTERM stops everything."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from services import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.service]


def _wait(predicate: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def stack_dir() -> object:
    """A directory the postgres user can reach (pytest's own temporary folders are private to root)."""
    import shutil
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="tirta-stack-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_stack_up_ingest_serve_and_stop(stack_dir: Path) -> None:
    import paho.mqtt.client as mqtt
    import psycopg

    from tirta.network.sensors import make_sensor
    from tirta.telemetry.store import open_store

    ports = {k: free_port() for k in ("port", "pg", "mqtt", "dask")}
    out = stack_dir / "stack.out"
    cmd = [sys.executable, str(ROOT / "deploy" / "stack.py"), "--dir", str(stack_dir),
           "--port", str(ports["port"]), "--pg-port", str(ports["pg"]), "--mqtt-port", str(ports["mqtt"]),
           "--dask-port", str(ports["dask"]), "--for", "600"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=out.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        state = stack_dir / "stack.json"
        _wait(lambda: state.exists() or proc.poll() is not None, 300, "the stack")
        assert proc.poll() is None, out.read_text()
        info = json.loads(state.read_text())
        printed = json.loads(
            out.read_text()[out.read_text().index("{") : out.read_text().index("}\n") + 1]
        )
        key = printed["admin_api_key"]
        with open_store(info["store"]) as store:
            store.add_sensors(
                [make_sensor({"id": f"s{i}", "kind": "pressure", "unit": "m"}) for i in range(10)]
            )
        r = httpx.get(f"{info['api']}/status", headers={"Authorization": f"Bearer {key}"}, timeout=30)
        assert r.status_code == 200 and "jobs" in r.json()
        from distributed import Client

        with Client(info["dask_scheduler"], timeout=30) as client:
            client.wait_for_workers(2, timeout=120)
        # kill one ingester: the stack starts it again, nothing is lost
        os.kill(info["processes"]["ingest-1"], signal.SIGKILL)
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="stack-test", clean_session=True)
        pub.connect("127.0.0.1", ports["mqtt"])
        pub.loop_start()
        for m in range(100):
            t = f"2024-06-01T{m // 12:02d}:{(m % 12) * 5:02d}:00Z"
            batch = [{"sensor": f"s{i}", "t": t, "v": 30.0 + i, "unit": "m"} for i in range(10)]
            pub.publish("tirta/city/readings", json.dumps(batch), qos=1).wait_for_publish(10)
        pub.loop_stop()

        def landed() -> bool:
            with psycopg.connect(info["store"]) as con:
                got = con.execute(
                    "SELECT count(*), count(DISTINCT (sensor, time)) FROM all_readings"
                ).fetchone()
            return got == (1000, 1000)

        _wait(landed, 180, "1,000 readings in PostgreSQL")
        assert "ingest-1 exited" in out.read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(120)
    assert code == 0, out.read_text()[-2000:]
    assert not (stack_dir / "stack.json").exists()
