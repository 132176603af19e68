"""``tirta users …``: add users of the API, issue their keys (each printed once), set dashboard passwords."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tirta.api.settings import api_settings
from tirta.api.store_users import StoreUsers, import_sqlite, open_users
from tirta.api.users import Users, UserStore
from tirta.cli.ingest import StoreOption

app = typer.Typer(help="API users, roles (viewer, operator, admin) and keys.", no_args_is_help=True)

UsersDbOption = Annotated[
    Path | None,
    typer.Option(
        "--users-db",
        help="Keep users in this SQLite file (default: $TIRTA_USERS_DB, else in the store)",
        show_default=False,
    ),
]


@contextmanager
def _users(store: str | None, users_db: Path | None) -> Iterator[Users]:
    """The deployment's users: in the store (opened for the command) unless a SQLite file is given."""
    from tirta.telemetry.store import open_store

    cfg = api_settings(store_url=store, users_db=users_db)
    if cfg.users_db is not None:
        yield UserStore(cfg.users_db)
        return
    with open_store(cfg.store_url) as opened:
        yield open_users(cfg.users_db, opened)


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="User name (letters, digits, _ . @ -)")],
    role: Annotated[str, typer.Option("--role", help="viewer, operator or admin")] = "viewer",
    store: StoreOption = None,
    users_db: UsersDbOption = None,
) -> None:
    """Add a user and print their API key; it is shown this once and stored only as a hash."""
    with _users(store, users_db) as users:
        key = users.add_user(name, role)
    Console(stderr=True).print(f"added {name} ({role}); the API key is shown once:", highlight=False)
    typer.echo(key)


@app.command("key")
def key(
    name: Annotated[str, typer.Argument(help="User name")],
    store: StoreOption = None,
    users_db: UsersDbOption = None,
) -> None:
    """Issue another API key for a user and print it once."""
    with _users(store, users_db) as users:
        typer.echo(users.add_key(name))


@app.command("password")
def password(
    name: Annotated[str, typer.Argument(help="User name")],
    store: StoreOption = None,
    users_db: UsersDbOption = None,
) -> None:
    """Set a user's dashboard password (asked twice, never echoed); ends their open sessions."""
    secret = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with _users(store, users_db) as users:
        users.set_password(name, secret)
    Console(stderr=True).print(f"password of {name} set", highlight=False)


@app.command("list")
def list_users(store: StoreOption = None, users_db: UsersDbOption = None) -> None:
    """Users, roles and their number of live keys."""
    table = Table(title="API users")
    for col in ("name", "role", "created", "active", "keys"):
        table.add_column(col)
    with _users(store, users_db) as users:
        for u in users.users():
            table.add_row(u.name, u.role, u.created_at, "yes" if u.active else "no", str(u.keys))
    Console().print(table)


@app.command("import-sqlite")
def import_file(
    path: Annotated[Path, typer.Argument(help="A users.sqlite of an earlier tirta")],
    store: StoreOption = None,
) -> None:
    """Copy the users, API keys (as their hashes) and live sessions of a SQLite users file into the
    store; keys and passwords keep working. Users already in the store are kept as they are."""
    from tirta.telemetry.store import open_store

    with open_store(api_settings(store_url=store).store_url) as opened:
        added = import_sqlite(path, StoreUsers(opened))
    Console(stderr=True).print(
        f"imported {added['users']} users, {added['keys']} keys, {added['sessions']} sessions",
        highlight=False,
    )
