"""Real services as local processes: a throw-away PostgreSQL server and a mosquitto broker.

Used by the test fixtures (tests/conftest.py, tests/mosquitto.py) and by the benchmarks, which put
``tests/`` on ``sys.path``. Nothing here depends on pytest.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["Mosquitto", "PostgresServer", "ServiceMissing", "free_port", "install_hint", "pg_bin"]

#: where Debian puts the PostgreSQL server programs; TIRTA_TEST_PG_BIN_DIRS (":"-separated) replaces
#: them, so that a test can see what a machine without PostgreSQL does
PG_BIN_DIRS = tuple(
    os.environ["TIRTA_TEST_PG_BIN_DIRS"].split(":")
    if "TIRTA_TEST_PG_BIN_DIRS" in os.environ
    else ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin")
)


class ServiceMissing(RuntimeError):
    """A program the tests start is not installed; the message says how to install it."""


def install_hint(what: str, *packages: str) -> str:
    """Why a service test cannot run and the command that fixes it (``make test`` runs it as root)."""
    pkgs = " ".join(packages)
    return (
        f"{what} is not installed: run `sudo apt-get install -y {pkgs}` "
        "(`make test` installs the Debian packages the tests need by itself when run as root)"
    )


def pg_bin(name: str) -> str | None:
    """Path of a PostgreSQL server program (initdb, pg_ctl), or None when not installed."""
    for folder in PG_BIN_DIRS:
        candidate = Path(folder) / name
        if candidate.is_file():
            return str(candidate)
    if "TIRTA_TEST_PG_BIN_DIRS" in os.environ:
        return None
    return shutil.which(name)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(cmd: list[str]) -> list[str]:
    """Run as the ``postgres`` user when we are root (initdb and postgres refuse to run as root)."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


class PostgresServer:
    """A PostgreSQL server on a temporary directory and a free port, trust auth on 127.0.0.1.

    Durability is off (fsync, synchronous_commit, full_page_writes): it is thrown away at the end.
    ``url`` names the ``tirta`` database, created on :meth:`start`.
    """

    user = "postgres"

    def __init__(self) -> None:
        initdb, pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
        if initdb is None or pg_ctl is None:
            raise ServiceMissing(install_hint("PostgreSQL (initdb, pg_ctl)", "postgresql"))
        self.initdb, self.pg_ctl = initdb, pg_ctl
        self.root = Path(tempfile.mkdtemp(prefix="tirta-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        self.base = f"postgresql://{self.user}@127.0.0.1:{self.port}"
        self.url = f"{self.base}/tirta"

    def start(self) -> str:
        """initdb, start the server, create the ``tirta`` database; return its URL."""
        import psycopg

        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        os.chmod(self.root, 0o700)
        cmd = [self.initdb, "-D", str(self.data), "-A", "trust", "-U", self.user, "-E", "UTF8"]
        subprocess.run(_as_postgres([*cmd, "--no-sync"]), check=True, capture_output=True)
        self._pg_ctl_start()
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(f"{self.base}/postgres", autocommit=True) as con:
                    con.execute("CREATE DATABASE tirta")
                return self.url
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def _pg_ctl_start(self) -> None:
        opts = (
            f"-k {self.root} -p {self.port} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c timezone=UTC"
        )
        cmd = [self.pg_ctl, "-D", str(self.data), "-l", str(self.log), "-o", opts, "-w", "-t", "30"]
        start = _as_postgres([*cmd, "start"])
        proc = subprocess.run(start, capture_output=True, text=True)
        if proc.returncode != 0:
            text = self.log.read_text() if self.log.exists() else proc.stderr
            raise RuntimeError(f"PostgreSQL did not start:\n{text}")

    def restart(self, mode: str = "fast") -> None:
        """Stop the server (``fast`` drops every connection) and start it again on the same port."""
        stop = [self.pg_ctl, "-D", str(self.data), "-m", mode, "-w", "stop"]
        subprocess.run(_as_postgres(stop), capture_output=True)
        self._pg_ctl_start()

    def stop(self) -> None:
        """Stop immediately and delete the data directory."""
        stop = [self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop"]
        subprocess.run(_as_postgres(stop), capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


class Mosquitto:
    """One broker process with persistence on, so queued QoS 1 messages survive a restart."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"mqtt://127.0.0.1:{self.port}"
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {workdir}/\n"
            "max_queued_messages 0\n"  # no limit on messages queued for an offline persistent client
            "max_inflight_messages 0\n"
            "user root\n"
            f"log_dest file {workdir}/mosquitto.log\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["mosquitto", "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = self.workdir / "mosquitto.log"
                text = log.read_text() if log.exists() else ""
                raise RuntimeError(f"mosquitto exited with {self.proc.returncode}: {text}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("mosquitto did not open its port")

    def stop(self) -> None:
        """SIGTERM: mosquitto saves its persistence file on the way out."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()
