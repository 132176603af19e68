"""``/api/v1/users``: admins list users, add them and issue keys (shown once)."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Path

from tirta.api.deps import Admin, StateDep
from tirta.api.errors import ApiError, error_responses
from tirta.api.models import USER_NAME, NewKeyPublic, UserIn, UserPublic

router = APIRouter(prefix="/users", tags=["users"])
audit_log = logging.getLogger("tirta.api.audit")

Name = Annotated[str, Path(pattern=USER_NAME)]


@router.get("", response_model=list[UserPublic])
def users(state: StateDep, _: Admin) -> Any:
    """All users with their role and number of live keys (never a key or a hash)."""
    return [u.__dict__ for u in state.users.users()]


@router.post("", response_model=NewKeyPublic, status_code=201, responses=error_responses(400, 409, 413))
def add_user(state: StateDep, who: Admin, body: UserIn) -> Any:
    """Add a user; the answer holds their API key, shown this once."""
    key = state.users.add_user(body.name, body.role)
    audit_log.info("user %s added with role %s by %s", body.name, body.role, who.user)
    return {"user": body.name, "role": body.role, "api_key": key}


@router.post(
    "/{name}/keys", response_model=NewKeyPublic, status_code=201, responses=error_responses(404, 413)
)
def add_key(state: StateDep, who: Admin, name: Name) -> Any:
    """Issue another key for a user (shown once)."""
    user = state.users.get(name)
    key = state.users.add_key(name)
    audit_log.info("new key for %s by %s", name, who.user)
    return {"user": user.name, "role": user.role, "api_key": key}


@router.delete("/{name}", status_code=204, responses=error_responses(404, 409))
def deactivate(state: StateDep, who: Admin, name: Name) -> None:
    """Disable a user and revoke their keys; an admin cannot disable their own account (409)."""
    if name == who.user:
        raise ApiError(409, "you cannot disable your own account", field="name")
    state.users.deactivate(name)
    audit_log.info("user %s disabled by %s", name, who.user)
