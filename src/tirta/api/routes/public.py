"""``/api/v1/public``: transparency figures anyone may read, without a key."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from tirta.api import opendata, services
from tirta.api.deps import StateDep
from tirta.api.models import KpisPublic

router = APIRouter(prefix="/public", tags=["public"])


@router.get("/kpis", response_model=KpisPublic)
def kpis(state: StateDep) -> Any:
    """NRW %, real losses (from the published audit), the count of open leaks and every published indicator
    (period, data validity, history, licence); no personal data."""
    out = services.public_kpis(state.store, state.settings.audit_file)
    return {**out, **opendata.public_fields(state.settings.kpis_file)}
