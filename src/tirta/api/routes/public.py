"""``/api/v1/public``: transparency figures anyone may read, without a key."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from tirta.api import services
from tirta.api.deps import StateDep
from tirta.api.models import KpisPublic

router = APIRouter(prefix="/public", tags=["public"])


@router.get("/kpis", response_model=KpisPublic)
def kpis(state: StateDep) -> Any:
    """NRW %, real losses (from the published audit) and the count of open leaks; no personal data."""
    return services.public_kpis(state.store, state.settings.audit_file)
