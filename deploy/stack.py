"""Run tirta for a city on one machine: PostgreSQL, Mosquitto, a Dask cluster, ``tirta serve`` and N MQTT
ingesters sharing one subscription, as supervised local processes (what docs/deploy.md describes).

The same commands run each piece on its own host in production (systemd units in deploy/systemd/).
Data lives under --dir and survives a restart of the stack. Stop with Ctrl-C or SIGTERM (or --for).

    python deploy/stack.py --dir /srv/tirta --ingesters 2 --dask-workers 2 [--network NET --dmas FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

PG_DIRS = ("/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin")


def _tool(name: str, debian: str) -> str:
    for folder in PG_DIRS if name in ("initdb", "pg_ctl") else ():
        if (Path(folder) / name).is_file():
            return str(Path(folder) / name)
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        raise SystemExit(f"error: {name} not found: apt-get install {debian}")
    return found


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _run(cmd: list[str], what: str) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        hint = " (as root: --dir must be a path the postgres user can reach, e.g. under /srv or /tmp)"
        raise SystemExit(
            f"error: {what} failed{hint if 'initdb' in what else ''}:\n{done.stderr or done.stdout}"
        )


def _wait_port(port: int, what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(f"error: {what} did not open port {port}")


class Stack:
    """The processes of one deployment under ``root``; :meth:`stop` ends them in reverse order."""

    def __init__(self, a: argparse.Namespace) -> None:
        self.a = a
        self.root = Path(a.dir).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.commands: dict[str, tuple[list[str], dict[str, str] | None]] = {}
        self.restarts: dict[str, int] = {}
        self.pg_data = self.root / "pg"
        self.store = f"postgresql://postgres@127.0.0.1:{a.pg_port}/tirta"
        self.broker = f"mqtt://127.0.0.1:{a.mqtt_port}"
        self.scheduler = f"tcp://127.0.0.1:{a.dask_port}"

    def _spawn(self, name: str, cmd: list[str], env: dict[str, str] | None = None) -> None:
        self.commands[name] = (cmd, env)
        log = (self.root / "logs" / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        self.procs.append((name, proc))

    def postgres(self) -> None:
        initdb, pg_ctl = _tool("initdb", "postgresql"), _tool("pg_ctl", "postgresql")
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        if not (self.pg_data / "PG_VERSION").exists():
            init = [initdb, "-D", str(self.pg_data), "-A", "trust", "-U", "postgres", "-E", "UTF8"]
            _run(_as_postgres(init), "initdb")
        opts = f"-k {self.root} -p {self.a.pg_port} -c listen_addresses=127.0.0.1 -c timezone=UTC"
        log = self.root / "logs" / "postgres.log"
        if os.geteuid() == 0:
            shutil.chown(log.parent, "postgres", "postgres")
        start = [pg_ctl, "-D", str(self.pg_data), "-l", str(log), "-o", opts, "-w", "-t", "60", "start"]
        _run(_as_postgres(start), "pg_ctl start")
        import psycopg

        with psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{self.a.pg_port}/postgres", autocommit=True
        ) as con:
            if con.execute("SELECT 1 FROM pg_database WHERE datname = 'tirta'").fetchone() is None:
                con.execute("CREATE DATABASE tirta")

    def mosquitto(self) -> None:
        conf = self.root / "mosquitto.conf"
        (self.root / "mosquitto").mkdir(exist_ok=True)
        conf.write_text(
            f"listener {self.a.mqtt_port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {self.root / 'mosquitto'}/\nuser root\n"
        )
        self._spawn("mosquitto", [_tool("mosquitto", "mosquitto"), "-c", str(conf)])
        _wait_port(self.a.mqtt_port, "mosquitto")

    def dask(self) -> None:
        dask = _tool("dask", "(pip) tirta[dask]")
        self._spawn(
            "dask-scheduler",
            [
                dask,
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.a.dask_port),
                "--no-dashboard",
            ],
        )
        _wait_port(self.a.dask_port, "the Dask scheduler")
        self._spawn(
            "dask-workers",
            [dask, "worker", self.scheduler, "--nworkers", str(self.a.dask_workers), "--nthreads", "1",
             "--no-dashboard", "--host", "127.0.0.1", "--local-directory", str(self.root / "dask")],
        )  # fmt: skip

    def tirta(self) -> dict[str, Any]:
        tirta = [sys.executable, "-m", "tirta"]
        users_db = str(self.root / "users.sqlite")
        env = {"TIRTA_DASK_SCHEDULER": self.scheduler, "TIRTA_USERS_DB": users_db}
        if self.a.network:
            env |= {
                "TIRTA_NETWORK": str(Path(self.a.network).resolve()),
                "TIRTA_DMAS": str(Path(self.a.dmas).resolve()),
            }
        key = None
        listed = subprocess.run(
            [*tirta, "users", "list", "--store", self.store, "--users-db", users_db],
            capture_output=True,
            text=True,
            env={**os.environ, **env},
        )
        if "admin" not in listed.stdout:
            made = subprocess.run(
                [
                    *tirta,
                    "users",
                    "add",
                    "admin",
                    "--role",
                    "admin",
                    "--store",
                    self.store,
                    "--users-db",
                    users_db,
                ],
                capture_output=True,
                text=True,
                env={**os.environ, **env},
                check=True,
            )
            key = made.stdout.strip().splitlines()[-1].split()[-1]
        for i in range(self.a.ingesters):
            self._spawn(
                f"ingest-{i + 1}",
                [
                    *tirta,
                    "ingest",
                    "mqtt",
                    "--broker",
                    self.broker,
                    "--group",
                    "tirta",
                    "--client-id",
                    f"tirta-ingest-{i + 1}",
                    "--store",
                    self.store,
                ],
                env,
            )
        self._spawn("serve", [*tirta, "serve", "--store", self.store, "--port", str(self.a.port)], env)
        _wait_port(self.a.port, "tirta serve", timeout_s=180)
        return {"admin_api_key": key}

    def up(self) -> dict[str, Any]:
        (self.root / "logs").mkdir(exist_ok=True)
        self.postgres()
        self.mosquitto()
        self.dask()
        extra = self.tirta()
        info = {
            "ready": True,
            "store": self.store,
            "broker": self.broker,
            "dask_scheduler": self.scheduler,
            "dashboard": f"http://127.0.0.1:{self.a.port}/",
            "api": f"http://127.0.0.1:{self.a.port}/api/v1",
            "processes": {name: p.pid for name, p in self.procs},
            **extra,
        }
        (self.root / "stack.json").write_text(
            json.dumps({k: v for k, v in info.items() if k != "admin_api_key"}, indent=1)
        )
        return info

    def supervise(self) -> None:
        """Start again (up to 5 times) a process that exited: MQTT sessions and the store lose nothing."""
        for i, (name, proc) in enumerate(self.procs):
            if proc.poll() is None:
                continue
            self.restarts[name] = self.restarts.get(name, 0) + 1
            if self.restarts[name] > 5:
                raise SystemExit(
                    f"error: {name} keeps exiting; see {self.root / 'logs' / (name + '.log')}"
                )
            print(f"{name} exited with {proc.returncode}; starting it again", flush=True)
            cmd, env = self.commands[name]
            self.procs.pop(i)
            self._spawn(name, cmd, env)
            return

    def stop(self) -> None:
        for _name, proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for _name, proc in self.procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        if (self.pg_data / "postmaster.pid").exists():
            subprocess.run(
                _as_postgres(
                    [_tool("pg_ctl", "postgresql"), "-D", str(self.pg_data), "-m", "fast", "-w", "stop"]
                ),
                capture_output=True,
            )
        (self.root / "stack.json").unlink(missing_ok=True)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--dir", required=True, help="where the stack keeps its data and logs")
    ap.add_argument("--ingesters", type=int, default=2)
    ap.add_argument("--dask-workers", type=int, default=2)
    ap.add_argument("--port", type=int, default=8000, help="tirta serve")
    ap.add_argument("--pg-port", type=int, default=5433)
    ap.add_argument("--mqtt-port", type=int, default=1883)
    ap.add_argument("--dask-port", type=int, default=8786)
    ap.add_argument("--network", help="EPANET model of the utility (default: L-Town)")
    ap.add_argument("--dmas", help="its DMA file (with --network)")
    ap.add_argument("--for", dest="for_s", type=float, help="stop by itself after this many seconds")
    a = ap.parse_args()
    if bool(a.network) != bool(a.dmas):
        raise SystemExit("error: give --network and --dmas together")
    stack = Stack(a)
    stopping = False

    def on_signal(_sig: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        info = stack.up()
        print(json.dumps(info, indent=1), flush=True)
        end = time.monotonic() + a.for_s if a.for_s else None
        while not stopping and (end is None or time.monotonic() < end):
            stack.supervise()
            time.sleep(0.5)
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
