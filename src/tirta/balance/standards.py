"""Read the reference tables shipped under ``tirta/data/standards`` (banding, UARL, audit defaults).

The tables live in TOML data files, each naming its published source, so a utility can audit them.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from tirta.errors import InputError

__all__ = ["STANDARDS_DIR", "load_standard"]

STANDARDS_DIR = Path(__file__).resolve().parent.parent / "data" / "standards"


@cache
def load_standard(name: str) -> dict[str, Any]:
    """The parsed ``<name>.toml`` of the standards directory (cached; treat it as read-only)."""
    path = STANDARDS_DIR / f"{name}.toml"
    if not path.is_file():
        raise InputError(f"standard table '{name}' not found", file=path)
    with path.open("rb") as fh:
        return tomllib.load(fh)
