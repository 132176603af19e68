"""Read the reference tables shipped under ``tirta/data/standards`` (banding, UARL, audit defaults).

The tables live in TOML data files, each naming its published source, so a utility can audit them. A
utility adds or overrides tables with its own files of the same name in ``$TIRTA_STANDARDS_DIR`` (for
example a national ILI banding scheme in ``ili_banding.toml``); its tables win over the shipped ones.
"""

from __future__ import annotations

import os
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from tirta.errors import InputError

__all__ = ["STANDARDS_DIR", "STANDARDS_ENV", "load_standard"]

STANDARDS_DIR = Path(__file__).resolve().parent.parent / "data" / "standards"
STANDARDS_ENV = "TIRTA_STANDARDS_DIR"


def load_standard(name: str) -> dict[str, Any]:
    """The parsed ``<name>.toml``: shipped tables, then the utility's own from ``$TIRTA_STANDARDS_DIR``."""
    return _load(name, os.environ.get(STANDARDS_ENV) or None)


@cache
def _load(name: str, extra_dir: str | None) -> dict[str, Any]:
    tables = dict(_read(STANDARDS_DIR / f"{name}.toml", required=True))
    if extra_dir is not None:
        tables.update(_read(Path(extra_dir) / f"{name}.toml", required=False))
    return tables


def _read(path: Path, *, required: bool) -> dict[str, Any]:
    if not path.is_file():
        if required:
            raise InputError(f"standard table '{path.stem}' not found", file=path)
        return {}
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"invalid TOML: {exc}", file=path) from None
