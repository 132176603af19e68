"""Access control: API keys hashed at rest (scrypt with a salt), roles viewer < operator < admin.

A key reads ``tirta_<key id>_<secret>``: the key id finds the row, the secret is checked against its
scrypt hash in constant time. Keys are shown once, when created; nothing stores or logs them.
The dashboard logs in with a password (scrypt too) and gets a session token in an HttpOnly cookie;
only the token's SHA-256 is stored, and its CSRF token is an HMAC of it, so nothing else is kept.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

__all__ = [
    "CSRF_HEADER",
    "MIN_PASSWORD",
    "ROLES",
    "SESSION_COOKIE",
    "KeyCache",
    "NewKey",
    "Principal",
    "check_role",
    "csrf_for",
    "csrf_matches",
    "hash_secret",
    "new_key",
    "new_session_token",
    "role_allows",
    "split_key",
    "token_digest",
    "verify_secret",
]

ROLES = ("viewer", "operator", "admin")  # each role may do what the ones before it may
_PREFIX = "tirta"
SESSION_COOKIE = "tirta_session"  # HttpOnly, SameSite=Lax; holds the session token
CSRF_HEADER = "X-CSRF-Token"  # what the dashboard's fetch calls send with a non-GET request
MIN_PASSWORD = 10  # characters
# scrypt cost: 16 MiB and ~40 ms per check; verified keys are cached (KeyCache) so requests stay fast
_N, _R, _P = 2**14, 8, 1


@dataclass(frozen=True)
class Principal:
    """Who makes a request: the user's name, role and the id (public part) of the key used."""

    user: str
    role: str
    key_id: str
    session: str | None = None  # the session token when the caller came with the dashboard's cookie


@dataclass(frozen=True)
class NewKey:
    """A freshly made key: the text to hand to the user once, and what is stored."""

    key: str
    key_id: str
    salt: bytes
    digest: bytes


def role_allows(role: str, needed: str) -> bool:
    """True when ``role`` ranks at least ``needed``."""
    return ROLES.index(role) >= ROLES.index(needed)


def check_role(role: str) -> str:
    """The role if known; ValueError otherwise (callers turn it into their error)."""
    if role not in ROLES:
        raise ValueError(f"unknown role '{role}'; expected one of {', '.join(ROLES)}")
    return role


def hash_secret(secret: str, salt: bytes) -> bytes:
    """scrypt digest (32 bytes) of a secret with its salt."""
    return hashlib.scrypt(secret.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=32)


def verify_secret(secret: str, salt: bytes, digest: bytes) -> bool:
    """Constant-time check of a secret against its stored digest."""
    return hmac.compare_digest(hash_secret(secret, salt), digest)


def new_key() -> NewKey:
    """A new random API key (key id 8 hex digits, secret 256 bits) and its salted hash."""
    key_id = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_bytes(16)
    return NewKey(f"{_PREFIX}_{key_id}_{secret}", key_id, salt, hash_secret(secret, salt))


def new_session_token() -> str:
    """A new random session token (256 bits); stored only as :func:`token_digest`."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """SHA-256 (hex) of a session token: tokens are random, so a fast hash is enough at rest."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def csrf_for(session_token: str) -> str:
    """The CSRF token of a session: an HMAC of the session token, so it needs no storage."""
    return hmac.new(session_token.encode("utf-8"), b"tirta-csrf-v1", hashlib.sha256).hexdigest()


def csrf_matches(session_token: str, given: str | None) -> bool:
    """Constant-time check of a CSRF token sent with a form or a header."""
    return bool(given) and hmac.compare_digest(csrf_for(session_token), str(given))


def split_key(key: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed key, None otherwise."""
    prefix, _, rest = key.strip().partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != _PREFIX or len(key_id) != 8 or not secret or len(secret) > 128:
        return None
    return key_id, secret


class KeyCache:
    """Keys verified recently, by a SHA-256 of the key (never the key), for ``ttl_s`` seconds.

    Spares one scrypt per request; :meth:`clear` runs whenever users or keys change.
    """

    def __init__(self, ttl_s: float = 60.0, size: int = 1024) -> None:
        self.ttl_s = ttl_s
        self.size = size
        self._items: dict[bytes, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _fingerprint(key: str) -> bytes:
        return hashlib.sha256(key.encode("utf-8")).digest()

    def get(self, key: str) -> Principal | None:
        with self._lock:
            hit = self._items.get(self._fingerprint(key))
            if hit is None or hit[0] < time.monotonic():
                return None
            return hit[1]

    def put(self, key: str, who: Principal) -> None:
        with self._lock:
            if len(self._items) >= self.size:
                self._items.clear()
            self._items[self._fingerprint(key)] = (time.monotonic() + self.ttl_s, who)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
