"""A fresh machine (issue 19 part 7): ``make test`` installs the Debian packages its tests start, or
stops with the command to run; a service fixture on a machine without the service FAILS with that
command (it used to skip every PostgreSQL test in silence and report success)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_make_test_depends_on_the_system_packages_step():
    makefile = (ROOT / "Makefile").read_text()
    assert "test: $(STAMP) system-packages" in makefile
    assert "sh tests/system_packages.sh" in makefile
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_missing_packages_stop_make_with_the_install_command(tmp_path: Path):
    bin_dir = tmp_path / "bin"  # a PATH with the shell's tools but no mosquitto, no runuser
    bin_dir.mkdir()
    for tool in ("ls", "id"):
        (bin_dir / tool).symlink_to(
            f"/usr/bin/{tool}" if Path(f"/usr/bin/{tool}").exists() else f"/bin/{tool}"
        )
    run = subprocess.run(
        ["/bin/sh", str(ROOT / "tests" / "system_packages.sh")],
        env={"PATH": str(bin_dir), "TIRTA_TEST_NO_APT": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert (
        "install them with:  sudo apt-get install -y mosquitto mosquitto-clients util-linux"
        in run.stderr
    )


def test_a_postgres_test_fails_not_skips_without_postgresql(tmp_path: Path):
    env = {
        **os.environ,
        "TIRTA_TEST_PG_BIN_DIRS": str(tmp_path / "no-postgres"),
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
    }
    run = subprocess.run(
        [
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(ROOT),
            str(ROOT / "tests/telemetry/test_telemetry_store.py") + "::test_sensors_round_trip[postgres]",
        ],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    out = run.stdout + run.stderr
    assert run.returncode == 1, out
    assert "1 error" in out and "skipped" not in out
    assert "sudo apt-get install -y postgresql" in out
