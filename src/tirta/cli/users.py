"""``tirta users …``: add users of the API, issue their keys (each printed once), set dashboard passwords."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tirta.api.settings import api_settings
from tirta.api.users import UserStore
from tirta.cli.ingest import StoreOption

app = typer.Typer(help="API users, roles (viewer, operator, admin) and keys.", no_args_is_help=True)

UsersDbOption = Annotated[
    Path | None,
    typer.Option(
        "--users-db",
        help="Users database (SQLite; default: $TIRTA_USERS_DB, else next to a DuckDB store)",
        show_default=False,
    ),
]


def _users(store: str | None, users_db: Path | None) -> UserStore:
    return UserStore(api_settings(store_url=store, users_db=users_db).users_db)


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="User name (letters, digits, _ . @ -)")],
    role: Annotated[str, typer.Option("--role", help="viewer, operator or admin")] = "viewer",
    store: StoreOption = None,
    users_db: UsersDbOption = None,
) -> None:
    """Add a user and print their API key; it is shown this once and stored only as a hash."""
    key = _users(store, users_db).add_user(name, role)
    Console(stderr=True).print(f"added {name} ({role}); the API key is shown once:", highlight=False)
    typer.echo(key)


@app.command("key")
def key(
    name: Annotated[str, typer.Argument(help="User name")],
    store: StoreOption = None,
    users_db: UsersDbOption = None,
) -> None:
    """Issue another API key for a user and print it once."""
    typer.echo(_users(store, users_db).add_key(name))


@app.command("password")
def password(
    name: Annotated[str, typer.Argument(help="User name")],
    store: StoreOption = None,
    users_db: UsersDbOption = None,
) -> None:
    """Set a user's dashboard password (asked twice, never echoed); ends their open sessions."""
    secret = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    _users(store, users_db).set_password(name, secret)
    Console(stderr=True).print(f"password of {name} set", highlight=False)


@app.command("list")
def list_users(store: StoreOption = None, users_db: UsersDbOption = None) -> None:
    """Users, roles and their number of live keys."""
    table = Table(title="API users")
    for col in ("name", "role", "created", "active", "keys"):
        table.add_column(col)
    for u in _users(store, users_db).users():
        table.add_row(u.name, u.role, u.created_at, "yes" if u.active else "no", str(u.keys))
    Console().print(table)
