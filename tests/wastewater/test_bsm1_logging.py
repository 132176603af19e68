"""bsm2-python points the root logger at standard output when imported; tirta's BSM1 wrapper puts the
logging back, so a command's JSON on stdout is never mixed with other libraries' messages."""

from __future__ import annotations

import logging

import pytest

from tirta.wastewater.bsm1 import _quiet_import


def test_importing_bsm2_python_leaves_the_root_logger_alone() -> None:
    pytest.importorskip("bsm2_python")
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    _quiet_import("bsm2_python.bsm1_ol")
    assert (list(root.handlers), root.level) == before
