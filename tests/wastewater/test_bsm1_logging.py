"""bsm2-python points the root logger at standard output when imported; tirta's BSM1 wrapper puts the
logging back, so a command's JSON on stdout is never mixed with other libraries' messages."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import logging
from tirta.wastewater.bsm1 import _quiet_import
root = logging.getLogger()
before = (list(root.handlers), root.level)
_quiet_import("bsm2_python.bsm1_ol")
assert (list(root.handlers), root.level) == before, (root.handlers, root.level)
logging.getLogger("wntr.network.io").warning("Curve was not used")
"""


def test_importing_bsm2_python_leaves_the_root_logger_alone() -> None:
    """In a fresh interpreter (this session's may have imported bsm2-python already): nothing is added
    to the root logger, and a library's warning does not reach standard output."""
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Curve was not used" not in done.stdout
