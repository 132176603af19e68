"""Users, API keys and dashboard sessions as records of the configured store (DuckDB or PostgreSQL).

The same interface as the SQLite :class:`tirta.api.users.UserStore`, but kept beside the readings, so
two ``tirta serve`` processes on one PostgreSQL share users, keys and sessions, and a restart loses
nothing. Record kinds: ``user`` (key: name), ``user.key`` (key: key id) and ``user.session`` (key:
SHA-256 of the token). Secrets are stored exactly as in SQLite: salted scrypt digests (hex), never
the secret. :func:`import_sqlite` moves an existing ``users.sqlite`` in.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tirta.api.auth import (
    KeyCache,
    Principal,
    hash_secret,
    new_key,
    new_session_token,
    split_key,
    token_digest,
    verify_secret,
)
from tirta.api.errors import NotFoundError
from tirta.api.settings import default_users_db
from tirta.api.users import (
    _NAME,
    User,
    Users,
    UserStore,
    _now,
    check_new_password,
    check_new_user,
    find_user,
    password_principal,
)
from tirta.errors import InputError, StoreError
from tirta.telemetry.store.base import Store

__all__ = ["KEY", "SESSION", "USER", "StoreUsers", "import_sqlite", "open_users"]

log = logging.getLogger("tirta.api")

USER, KEY, SESSION = "user", "user.key", "user.session"
_SESSION_GRACE_S = 86400.0  # sessions expired longer than this are deleted at the next login


class StoreUsers:
    """Users, hashed API keys and sessions as records of ``store``; any thread or process may use it."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.cache = KeyCache()  # spares scrypt only: revocation is read from the store every time

    def _update(self, kind: str, key: str, change: Callable[[dict[str, Any]], dict[str, Any]]) -> bool:
        """Apply ``change`` to a record by compare-and-set, retrying when another writer got there
        first; False when the record does not exist."""
        for _ in range(50):
            rec = self.store.get_record(kind, key)
            if rec is None:
                return False
            if self.store.swap_record(kind, key, rec.value, change(dict(rec.value))):
                return True
        raise StoreError(f"record {kind}/{key} kept changing; try again")

    def _user(self, name: str) -> dict[str, Any]:
        rec = self.store.get_record(USER, name)
        if rec is None:
            raise NotFoundError(f"no user '{name}'", field="name")
        return rec.value

    # --- users and keys ---------------------------------------------------------------------------
    def add_user(self, name: str, role: str) -> str:
        """Create a user with one API key; return the key (shown once, stored only as a hash)."""
        check_new_user(name, role)
        value = {"role": role, "created_at": _now(), "active": True, "pw_salt": None, "pw_digest": None}
        if not self.store.put_record(USER, name, value, only_if_new=True):
            raise InputError(f"user '{name}' exists already", field="name")
        return self.add_key(name)

    def add_key(self, name: str) -> str:
        """A new API key for an existing user; return it (shown once)."""
        self._user(name)
        key = new_key()
        value = {
            "user": name,
            "salt": key.salt.hex(),
            "digest": key.digest.hex(),
            "created_at": _now(),
            "revoked": False,
        }
        self.store.put_record(KEY, key.key_id, value, only_if_new=True)
        self.cache.clear()
        return key.key

    def deactivate(self, name: str) -> None:
        """Disable a user and revoke all their keys and sessions."""
        self._user(name)
        self._update(USER, name, lambda v: {**v, "active": False})
        for rec in self.store.records(KEY):
            if rec.value.get("user") == name and not rec.value.get("revoked"):
                self._update(KEY, rec.key, lambda v: {**v, "revoked": True})
        self.end_sessions(name)
        self.cache.clear()

    def get(self, name: str) -> User:
        """One user; NotFoundError (field ``name``) when there is none."""
        return find_user(self.users(), name)

    def users(self) -> list[User]:
        """All users by name, with their count of live keys."""
        live: dict[str, int] = {}
        for rec in self.store.records(KEY):
            if not rec.value.get("revoked"):
                live[rec.value["user"]] = live.get(rec.value["user"], 0) + 1
        found = sorted(self.store.records(USER), key=lambda r: r.key)
        return [
            User(
                r.key,
                r.value["role"],
                r.value["created_at"],
                bool(r.value["active"]),
                live.get(r.key, 0),
            )
            for r in found
        ]

    def count_admins(self) -> int:
        """Active admins."""
        return sum(
            1 for r in self.store.records(USER) if r.value["role"] == "admin" and r.value["active"]
        )

    def authenticate(self, key: str) -> Principal | None:
        """The principal a key belongs to, or None for a malformed, unknown, revoked or wrong key."""
        parts = split_key(key)
        if parts is None:
            return None
        key_id, secret = parts
        rec = self.store.get_record(KEY, key_id)
        owner = self.store.get_record(USER, rec.value["user"]) if rec is not None else None
        if rec is None or rec.value.get("revoked") or owner is None or not owner.value["active"]:
            hash_secret(secret, bytes(16))  # as slow as a real check: no timing hint of known ids
            return None
        who = Principal(user=owner.key, role=owner.value["role"], key_id=key_id)
        cached = self.cache.get(key)
        if cached is not None and cached.key_id == key_id:
            return who
        if not verify_secret(
            secret, bytes.fromhex(rec.value["salt"]), bytes.fromhex(rec.value["digest"])
        ):
            return None
        self.cache.put(key, who)
        return who

    # --- passwords and dashboard sessions ----------------------------------------------------------
    def set_password(self, name: str, password: str) -> None:
        """Set a user's dashboard password (scrypt with a new salt); ends their open sessions."""
        self._user(name)
        check_new_password(password)
        salt = secrets.token_bytes(16)
        digest = hash_secret(password, salt).hex()
        self._update(USER, name, lambda v: {**v, "pw_salt": salt.hex(), "pw_digest": digest})
        self.end_sessions(name)

    def check_password(self, name: str, password: str) -> Principal | None:
        """The active user a name and password belong to, else None (same cost either way)."""
        rec = self.store.get_record(USER, name) if _NAME.match(name) else None
        value = rec.value if rec is not None else {}
        if not value.get("active") or value.get("pw_salt") is None or len(password) > 1024:
            return password_principal(name, password, None)  # hex decoded only when it is checked
        salt, digest = bytes.fromhex(value["pw_salt"]), bytes.fromhex(value["pw_digest"])
        return password_principal(name, password, (value["role"], salt, digest))

    def new_session(self, name: str, ttl_s: float) -> str:
        """Open a session of ``ttl_s`` seconds for a user; return its token (stored only hashed)."""
        now = time.time()
        for rec in self.store.records(SESSION):
            if rec.value["expires_at"] < now - _SESSION_GRACE_S:
                self.store.delete_record(SESSION, rec.key)
        token = new_session_token()
        value = {"user": name, "created_at": _now(), "expires_at": now + ttl_s, "revoked": False}
        self.store.put_record(SESSION, token_digest(token), value, only_if_new=True)
        return token

    def session(self, token: str) -> Principal | None:
        """The principal of a live session token: not expired, not revoked, user still active."""
        if not token or len(token) > 128:
            return None
        digest = token_digest(token)
        rec = self.store.get_record(SESSION, digest)
        if rec is None or rec.value["revoked"] or rec.value["expires_at"] <= time.time():
            return None
        owner = self.store.get_record(USER, rec.value["user"])
        if owner is None or not owner.value["active"]:
            return None
        return Principal(
            user=owner.key, role=owner.value["role"], key_id=f"web-{digest[:8]}", session=token
        )

    def end_session(self, token: str) -> None:
        """Revoke one session (logout)."""
        self._update(SESSION, token_digest(token), lambda v: {**v, "revoked": True})

    def end_sessions(self, name: str) -> int:
        """Revoke every session of a user; return how many were live."""
        now, ended = time.time(), 0
        for rec in self.store.records(SESSION):
            v = rec.value
            if v["user"] == name and not v["revoked"] and v["expires_at"] > now:
                ended += self._update(SESSION, rec.key, lambda v: {**v, "revoked": True})
        return ended


def import_sqlite(path: str | Path, users: StoreUsers) -> dict[str, int]:
    """Copy the users, keys (their scrypt hashes, unchanged) and live sessions of a ``users.sqlite``
    into the store; ones already there are kept. Returns how many of each were added."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such users database", file=path)
    try:
        con = sqlite3.connect(path)
        try:
            cols = {row[1] for row in con.execute("PRAGMA table_info(users)")}
            pw = "pw_salt, pw_digest" if "pw_salt" in cols else "NULL, NULL"
            people = con.execute(f"SELECT name, role, created_at, active, {pw} FROM users").fetchall()
            keys = con.execute("SELECT key_id, user, salt, digest, created_at, revoked FROM api_keys")
            key_rows = keys.fetchall()
            sessions = con.execute(
                "SELECT token_hash, user, created_at, expires_at, revoked FROM sessions "
                "WHERE revoked = 0 AND expires_at > ?",
                (time.time(),),
            ).fetchall()
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read the users database: {exc}", file=path) from None
    put = users.store.put_record
    added = {"users": 0, "keys": 0, "sessions": 0}
    for name, role, created, active, salt, digest in people:
        value = {
            "role": role,
            "created_at": created,
            "active": bool(active),
            "pw_salt": bytes(salt).hex() if salt is not None else None,
            "pw_digest": bytes(digest).hex() if digest is not None else None,
        }
        added["users"] += put(USER, name, value, only_if_new=True)
    for key_id, user, salt, digest, created, revoked in key_rows:
        value = {
            "user": user,
            "salt": bytes(salt).hex(),
            "digest": bytes(digest).hex(),
            "created_at": created,
            "revoked": bool(revoked),
        }
        added["keys"] += put(KEY, key_id, value, only_if_new=True)
    for token_hash, user, created, expires, revoked in sessions:
        value = {
            "user": user,
            "created_at": created,
            "expires_at": float(expires),
            "revoked": bool(revoked),
        }
        added["sessions"] += put(SESSION, token_hash, value, only_if_new=True)
    users.cache.clear()
    return added


def open_users(users_db: Path | None, store: Store) -> Users:
    """The users of a deployment: the SQLite file when one is given, else the store's records, into
    which the users file older versions kept by default (:func:`default_users_db`) is imported once,
    while the store has no users yet."""
    if users_db is not None:
        return UserStore(users_db)
    users = StoreUsers(store)
    legacy = default_users_db(store.url)
    if legacy.is_file() and not store.records(USER):
        added = import_sqlite(legacy, users)
        log.warning("imported %s from %s into the store", added, legacy)
    return users
