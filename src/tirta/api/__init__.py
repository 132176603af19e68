"""The HTTP API: a FastAPI app factory, one router per domain under ``/api/v1``, API keys and roles.

Build the app with :func:`create_app` from :func:`api_settings`; ``tirta serve`` runs it with uvicorn.
"""

from __future__ import annotations

from tirta.api.app import API_PREFIX, create_app
from tirta.api.auth import ROLES, Principal
from tirta.api.settings import ApiSettings, api_settings
from tirta.api.users import User, UserStore

__all__ = [
    "API_PREFIX",
    "ROLES",
    "ApiSettings",
    "Principal",
    "User",
    "UserStore",
    "api_settings",
    "create_app",
]
