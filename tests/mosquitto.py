"""The ``mosquitto`` fixture: a real Debian mosquitto broker on a free loopback port, per test."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from services import Mosquitto, free_port, install_hint

__all__ = ["Mosquitto", "free_port", "mosquitto"]


@pytest.fixture
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """A fresh broker per test (tests restart it and leave sessions behind)."""
    if shutil.which("mosquitto") is None:
        pytest.fail(install_hint("mosquitto", "mosquitto", "mosquitto-clients"))
    broker = Mosquitto(tmp_path_factory.mktemp("mosquitto"))
    broker.start()
    yield broker
    broker.stop()
