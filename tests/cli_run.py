"""Run ``tirta`` as a user does (a subprocess) with this tree's sources first on the path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).parents[1] / "src"
FIXTURES = Path(__file__).parent / "fixtures" / "planning"


def tirta(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tirta", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env={"COLUMNS": "120", "PATH": "/usr/bin:/bin", "NO_COLOR": "1", "PYTHONPATH": str(SRC)},
    )
