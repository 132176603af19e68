"""Users, keys and sessions kept as records of the store (both backends): hashed as in SQLite, revoked
and expired as there, shared by a second connection, and imported from an older users.sqlite."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tirta.api.auth import hash_secret, split_key
from tirta.api.errors import NotFoundError
from tirta.api.store_users import KEY, SESSION, USER, StoreUsers, import_sqlite, open_users
from tirta.api.users import UserStore
from tirta.cli import app as cli_app
from tirta.errors import InputError
from tirta.telemetry.store import Store, open_store


def test_keys_are_stored_as_salted_scrypt_and_revoked_on_deactivate(store: Store) -> None:
    users = StoreUsers(store)
    key = users.add_user("ana", "operator")
    key_id, secret = split_key(key)  # type: ignore[misc]
    rec = store.get_record(KEY, key_id)
    assert rec is not None and secret not in str(rec.value)
    assert bytes.fromhex(rec.value["digest"]) == hash_secret(secret, bytes.fromhex(rec.value["salt"]))
    who = users.authenticate(key)
    assert who is not None and (who.user, who.role, who.key_id) == ("ana", "operator", key_id)
    assert users.authenticate(key[:-3] + "AAA") is None and users.authenticate("nonsense") is None
    second = users.add_key("ana")
    assert [(u.name, u.role, u.active, u.keys) for u in users.users()] == [("ana", "operator", True, 2)]
    with pytest.raises(InputError, match="exists already"):
        users.add_user("ana", "viewer")
    with pytest.raises(InputError) as bad:
        users.add_user("x", "boss")
    assert bad.value.field == "role"
    with pytest.raises(NotFoundError):
        users.add_key("nobody")
    users.add_user("root", "admin")
    assert users.count_admins() == 1
    users.deactivate("ana")
    assert users.authenticate(key) is None and users.authenticate(second) is None  # cache or not
    assert users.get("ana").keys == 0 and not users.get("ana").active


def test_sessions_expire_and_are_revoked(store: Store) -> None:
    users = StoreUsers(store)
    users.add_user("bo", "viewer")
    assert users.check_password("bo", "long enough pw") is None  # no password yet
    with pytest.raises(InputError) as short:
        users.set_password("bo", "short")
    assert short.value.field == "password"
    users.set_password("bo", "long enough pw")
    assert users.check_password("bo", "wrong password!") is None
    who = users.check_password("bo", "long enough pw")
    assert who is not None and who.role == "viewer"
    token = users.new_session("bo", 3600.0)
    assert store.get_record(SESSION, token) is None  # stored hashed only
    got = users.session(token)
    assert got is not None and got.user == "bo" and got.session == token
    brief = users.new_session("bo", 0.2)
    assert users.session(brief) is not None
    time.sleep(0.3)
    assert users.session(brief) is None  # expired
    users.end_session(token)
    assert users.session(token) is None  # logged out
    again = users.new_session("bo", 3600.0)
    assert users.end_sessions("bo") == 1 and users.session(again) is None
    last = users.new_session("bo", 3600.0)
    users.set_password("bo", "another long pw")  # a new password ends open sessions
    assert users.session(last) is None


def test_a_second_connection_shares_users_and_sessions(store: Store, store_url: str) -> None:
    if not store_url.startswith("postgres"):
        pytest.skip("an embedded DuckDB file has one process")
    key = StoreUsers(store).add_user("cy", "admin")
    StoreUsers(store).set_password("cy", "a good password")
    token = StoreUsers(store).new_session("cy", 600.0)
    with open_store(store_url) as other:
        there = StoreUsers(other)
        assert there.authenticate(key) is not None and there.session(token) is not None
        there.deactivate("cy")
    here = StoreUsers(store)
    assert here.authenticate(key) is None and here.session(token) is None


def _legacy(path: Path) -> tuple[str, str]:
    """A users.sqlite as older tirta wrote it: a user with a key, a password and a session."""
    old = UserStore(path)
    key = old.add_user("dee", "operator")
    old.add_user("gone", "viewer")
    old.deactivate("gone")
    old.set_password("dee", "the old password")
    return key, old.new_session("dee", 3600.0)


def test_import_sqlite_keeps_keys_passwords_and_sessions_working(store: Store, tmp_path: Path) -> None:
    key, token = _legacy(tmp_path / "old.sqlite")
    users = StoreUsers(store)
    assert import_sqlite(tmp_path / "old.sqlite", users) == {"users": 2, "keys": 2, "sessions": 1}
    assert import_sqlite(tmp_path / "old.sqlite", users) == {"users": 0, "keys": 0, "sessions": 0}
    who = users.authenticate(key)
    assert who is not None and (who.user, who.role) == ("dee", "operator")
    assert users.check_password("dee", "the old password") is not None
    assert users.session(token) is not None
    assert [(u.name, u.active) for u in users.users()] == [("dee", True), ("gone", False)]
    with pytest.raises(InputError) as missing:
        import_sqlite(tmp_path / "nope.sqlite", users)
    assert str(missing.value.file) == str(tmp_path / "nope.sqlite")


def test_the_default_users_file_is_imported_once_when_the_store_has_none(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'site.duckdb'}"
    key, _ = _legacy(tmp_path / "site.users.sqlite")  # where older versions kept them by default
    with open_store(url) as store:
        users = open_users(None, store)
        assert users.authenticate(key) is not None
        assert len(store.records(USER)) == 2
        users.deactivate("dee")
        assert open_users(None, store).authenticate(key) is None  # not imported a second time


def test_cli_users_live_in_the_store_and_import_sqlite(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 's.duckdb'}"
    run = CliRunner().invoke
    added = run(cli_app, ["users", "add", "erin", "--role", "operator", "--store", url])
    assert added.exit_code == 0, added.output
    key = added.stdout.strip().splitlines()[-1]
    key_old, _ = _legacy(tmp_path / "old.sqlite")
    imported = run(cli_app, ["users", "import-sqlite", str(tmp_path / "old.sqlite"), "--store", url])
    assert imported.exit_code == 0, imported.output
    assert "imported 2 users, 2 keys, 1 sessions" in imported.output
    listing = run(cli_app, ["users", "list", "--store", url])
    assert all(n in listing.stdout for n in ("erin", "dee", "gone"))
    with open_store(url) as store:
        users = StoreUsers(store)
        assert users.authenticate(key) is not None and users.authenticate(key_old) is not None
    missing = run(cli_app, ["users", "import-sqlite", str(tmp_path / "none.sqlite"), "--store", url])
    assert isinstance(missing.exception, InputError)  # tirta.cli.main prints it as one line
    assert str(missing.exception.file).endswith("none.sqlite")
