"""Settings: built on demand from explicit values, then ``TIRTA_*`` environment variables, then defaults.

Nothing is read at import time; call :func:`settings` where a command or the server starts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tirta.errors import InputError

__all__ = ["DEFAULT_STORE_URL", "Settings", "StoreURL", "parse_store_url", "settings"]

DEFAULT_STORE_URL = "./tirta.duckdb"
STORE_ENV = "TIRTA_STORE_URL"


@dataclass(frozen=True)
class Settings:
    """What a tirta process needs to know; ``store_url`` names the telemetry store."""

    store_url: str = DEFAULT_STORE_URL


def settings(*, store_url: str | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Settings from explicit values (CLI flags), else env ``TIRTA_STORE_URL``, else the defaults."""
    environ = os.environ if env is None else env
    url = store_url or environ.get(STORE_ENV) or DEFAULT_STORE_URL
    return Settings(store_url=url)


@dataclass(frozen=True)
class StoreURL:
    """A parsed store URL: ``backend`` duckdb (``target`` a file path) or postgres (a libpq URI)."""

    backend: Literal["duckdb", "postgres"]
    target: str

    @property
    def path(self) -> Path:
        return Path(self.target)


def parse_store_url(url: str) -> StoreURL:
    """Parse ``duckdb:///path/file.duckdb``, ``postgresql://user@host:port/db`` or a bare ``.duckdb`` path.

    Everything after ``duckdb://`` is the file path, so ``duckdb:///tmp/x.duckdb`` is ``/tmp/x.duckdb``
    and ``duckdb://./x.duckdb`` is relative.
    """
    text = url.strip()
    if not text:
        raise InputError("store URL is empty", field="--store")
    lower = text.lower()
    if lower.startswith(("postgresql://", "postgres://")):
        return StoreURL("postgres", text)
    if lower.startswith("duckdb:"):
        rest = text[len("duckdb:") :]
        path = rest[2:] if rest.startswith("//") else rest
        if not path:
            raise InputError(f"store URL '{url}' names no file", field="--store")
        return StoreURL("duckdb", path)
    if "://" in text:
        scheme = text.split("://", 1)[0]
        raise InputError(
            f"unknown store URL scheme '{scheme}'; expected duckdb:///path/file.duckdb or "
            "postgresql://user@host:port/db",
            field="--store",
        )
    return StoreURL("duckdb", text)
