"""Users and API keys in a small SQLite file of their own (``--users-db``; by default they are records
of the store instead, see :mod:`tirta.api.store_users`).

Tables: ``users`` (name, role, created_at, active, password salt and scrypt hash), ``api_keys`` (key id,
user, salt, scrypt hash, created_at, revoked) and ``sessions`` (SHA-256 of the dashboard's session token,
user, created, expires, revoked). Secrets never enter the file; keys are shown once by
:meth:`UserStore.add_user` and :meth:`UserStore.add_key`.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from tirta.api.auth import (
    MIN_PASSWORD,
    KeyCache,
    Principal,
    check_role,
    hash_secret,
    new_key,
    new_session_token,
    split_key,
    token_digest,
    verify_secret,
)
from tirta.api.errors import ApiError, NotFoundError
from tirta.api.models import USER_NAME
from tirta.errors import InputError, StoreError

__all__ = [
    "User",
    "UserStore",
    "Users",
    "check_new_password",
    "check_new_user",
    "find_user",
    "password_principal",
]

_NAME = re.compile(USER_NAME)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    created_at TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    user TEXT NOT NULL REFERENCES users(name),
    salt BLOB NOT NULL,
    digest BLOB NOT NULL,
    created_at TEXT NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    user TEXT NOT NULL REFERENCES users(name),
    created_at TEXT NOT NULL,
    expires_at REAL NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
"""
_PASSWORD_COLUMNS = {"pw_salt": "BLOB", "pw_digest": "BLOB"}  # added to older files on open


@dataclass(frozen=True)
class User:
    """A user as shown to admins: no secrets."""

    name: str
    role: str
    created_at: str
    active: bool
    keys: int


class Users(Protocol):
    """What the API, dashboard and CLI ask of a user store (SQLite file or the telemetry store)."""

    def add_user(self, name: str, role: str) -> str: ...
    def add_key(self, name: str) -> str: ...
    def deactivate(self, name: str) -> None: ...
    def get(self, name: str) -> User: ...
    def users(self) -> list[User]: ...
    def count_admins(self) -> int: ...
    def authenticate(self, key: str) -> Principal | None: ...
    def set_password(self, name: str, password: str) -> None: ...
    def check_password(self, name: str, password: str) -> Principal | None: ...
    def new_session(self, name: str, ttl_s: float) -> str: ...
    def session(self, token: str) -> Principal | None: ...
    def end_session(self, token: str) -> None: ...
    def end_sessions(self, name: str) -> int: ...


class UserStore:
    """Users and hashed API keys in one SQLite file; a connection per call, so any thread may use it."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.cache = KeyCache()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as con:
                con.executescript(_SCHEMA)
                have = {row[1] for row in con.execute("PRAGMA table_info(users)")}
                for col, kind in _PASSWORD_COLUMNS.items():
                    if col not in have:
                        con.execute(f"ALTER TABLE users ADD COLUMN {col} {kind}")
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the users database: {exc}", file=self.path) from None

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=10)
        try:
            with con:
                yield con
        finally:
            con.close()

    def add_user(self, name: str, role: str) -> str:
        """Create a user with one API key; return the key (shown once, stored only as a hash)."""
        check_new_user(name, role)
        now = _now()
        try:
            with self._connect() as con:
                con.execute(
                    "INSERT INTO users (name, role, created_at) VALUES (?, ?, ?)", (name, role, now)
                )
        except sqlite3.IntegrityError:
            raise ApiError(409, f"user '{name}' exists already", field="name") from None
        return self.add_key(name)

    def add_key(self, name: str) -> str:
        """A new API key for an existing user; return it (shown once)."""
        self.get(name)
        key = new_key()
        with self._connect() as con:
            con.execute(
                "INSERT INTO api_keys (key_id, user, salt, digest, created_at) VALUES (?, ?, ?, ?, ?)",
                (key.key_id, name, key.salt, key.digest, _now()),
            )
        self.cache.clear()
        return key.key

    def deactivate(self, name: str) -> None:
        """Disable a user and revoke all their keys."""
        self.get(name)
        with self._connect() as con:
            con.execute("UPDATE users SET active = 0 WHERE name = ?", (name,))
            con.execute("UPDATE api_keys SET revoked = 1 WHERE user = ?", (name,))
            con.execute("UPDATE sessions SET revoked = 1 WHERE user = ?", (name,))
        self.cache.clear()

    def get(self, name: str) -> User:
        """One user; InputError (field ``name``) when there is none."""
        return find_user(self.users(), name)

    def users(self) -> list[User]:
        """All users by name, with their count of live keys."""
        sql = (
            "SELECT u.name, u.role, u.created_at, u.active, "
            "COUNT(k.key_id) FILTER (WHERE k.revoked = 0) "
            "FROM users u LEFT JOIN api_keys k ON k.user = u.name GROUP BY u.name ORDER BY u.name"
        )
        with self._connect() as con:
            rows = con.execute(sql).fetchall()
        return [User(r[0], r[1], r[2], bool(r[3]), int(r[4])) for r in rows]

    def count_admins(self) -> int:
        """Active admins."""
        with self._connect() as con:
            row = con.execute(
                "SELECT COUNT(*) FROM users WHERE role = 'admin' AND active = 1"
            ).fetchone()
        return int(row[0])

    def authenticate(self, key: str) -> Principal | None:
        """The principal a key belongs to, or None for a malformed, unknown, revoked or wrong key."""
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        parts = split_key(key)
        if parts is None:
            return None
        key_id, secret = parts
        sql = (
            "SELECT k.salt, k.digest, u.name, u.role FROM api_keys k JOIN users u ON u.name = k.user "
            "WHERE k.key_id = ? AND k.revoked = 0 AND u.active = 1"
        )
        with self._connect() as con:
            row = con.execute(sql, (key_id,)).fetchone()
        if row is None:
            hash_secret(secret, bytes(16))  # as slow as a real check: no timing hint of known ids
            return None
        if not verify_secret(secret, row[0], row[1]):
            return None
        who = Principal(user=row[2], role=row[3], key_id=key_id)
        self.cache.put(key, who)
        return who

    # --- passwords and dashboard sessions ----------------------------------------------------------
    def set_password(self, name: str, password: str) -> None:
        """Set a user's dashboard password (scrypt with a new salt); ends their open sessions."""
        self.get(name)
        check_new_password(password)
        salt = secrets.token_bytes(16)
        with self._connect() as con:
            con.execute(
                "UPDATE users SET pw_salt = ?, pw_digest = ? WHERE name = ?",
                (salt, hash_secret(password, salt), name),
            )
            con.execute("UPDATE sessions SET revoked = 1 WHERE user = ?", (name,))

    def check_password(self, name: str, password: str) -> Principal | None:
        """The active user a name and password belong to, else None (same cost either way)."""
        with self._connect() as con:
            row = con.execute(
                "SELECT pw_salt, pw_digest, role FROM users WHERE name = ? AND active = 1", (name,)
            ).fetchone()
        if row is None or row[0] is None:
            return password_principal(name, password, None)
        return password_principal(name, password, (row[2], row[0], row[1]))

    def new_session(self, name: str, ttl_s: float) -> str:
        """Open a session of ``ttl_s`` seconds for a user; return its token (stored only hashed)."""
        token = new_session_token()
        with self._connect() as con:
            con.execute("DELETE FROM sessions WHERE expires_at < ?", (time.time() - 86400.0,))
            con.execute(
                "INSERT INTO sessions (token_hash, user, created_at, expires_at) VALUES (?, ?, ?, ?)",
                (token_digest(token), name, _now(), time.time() + ttl_s),
            )
        return token

    def session(self, token: str) -> Principal | None:
        """The principal of a live session token: not expired, not revoked, user still active."""
        if not token or len(token) > 128:
            return None
        sql = (
            "SELECT u.name, u.role, s.expires_at FROM sessions s JOIN users u ON u.name = s.user "
            "WHERE s.token_hash = ? AND s.revoked = 0 AND u.active = 1"
        )
        digest = token_digest(token)
        with self._connect() as con:
            row = con.execute(sql, (digest,)).fetchone()
        if row is None or row[2] <= time.time():
            return None
        return Principal(user=row[0], role=row[1], key_id=f"web-{digest[:8]}", session=token)

    def end_session(self, token: str) -> None:
        """Revoke one session (logout)."""
        with self._connect() as con:
            con.execute("UPDATE sessions SET revoked = 1 WHERE token_hash = ?", (token_digest(token),))

    def end_sessions(self, name: str) -> int:
        """Revoke every session of a user; return how many were live."""
        with self._connect() as con:
            cur = con.execute(
                "UPDATE sessions SET revoked = 1 WHERE user = ? AND revoked = 0 AND expires_at > ?",
                (name, time.time()),
            )
        return int(cur.rowcount)


def check_new_user(name: str, role: str) -> None:
    """Refuse a user name outside :data:`tirta.api.models.USER_NAME` or an unknown role (InputError
    on field ``name`` or ``role``): the check both user stores make before creating a user."""
    if not _NAME.match(name):
        raise InputError("a user name is 1–64 letters, digits, '_', '.', '@' or '-'", field="name")
    try:
        check_role(role)
    except ValueError as exc:
        raise InputError(str(exc), field="role") from None


def check_new_password(password: str) -> None:
    """Refuse a dashboard password shorter than :data:`tirta.api.auth.MIN_PASSWORD` characters."""
    if len(password) < MIN_PASSWORD:
        raise InputError(f"a password has at least {MIN_PASSWORD} characters", field="password")


def find_user(users: list[User], name: str) -> User:
    """The user called ``name`` among ``users``; NotFoundError (field ``name``) when there is none."""
    for user in users:
        if user.name == name:
            return user
    raise NotFoundError(f"no user '{name}'", field="name")


def password_principal(
    name: str, password: str, stored: tuple[str, bytes, bytes] | None
) -> Principal | None:
    """The dashboard principal of ``name`` when ``password`` matches its ``stored`` (role, salt,
    scrypt digest), else None; as slow without a stored password, so names cannot be probed."""
    if stored is None or len(password) > 1024:
        hash_secret(password[:1024], bytes(16))  # no timing hint of which names exist
        return None
    role, salt, digest = stored
    if not verify_secret(password, salt, digest):
        return None
    return Principal(user=name, role=role, key_id="web")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
