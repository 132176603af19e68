"""``/api/v1/balance``: the IWA/AWWA water balance of an audit, and of a DMA from the store."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from tirta.api import services
from tirta.api.deps import StateDep, StoreDep, Viewer
from tirta.api.errors import error_responses
from tirta.api.models import ReportPublic
from tirta.api.params import MONTH_PATTERN
from tirta.balance.audit import audit_json_schema

router = APIRouter(prefix="/balance", tags=["balance"])

Scheme = Annotated[str, Query(max_length=64, description="ILI banding scheme")]

_AUDIT_BODY = {
    "requestBody": {
        "required": True,
        "description": "The audit: AUDIT.toml text ([system], [volumes], optional [costs]) or the same "
        "tables as a JSON object.",
        "content": {
            "application/toml": {"schema": {"type": "string"}},
            "application/json": {"schema": audit_json_schema()},
        },
    }
}


@router.post(
    "/compute",
    response_model=ReportPublic,
    openapi_extra=_AUDIT_BODY,
    responses=error_responses(400, 413, 415),
)
async def compute(request: Request, _: Viewer, scheme: Scheme = "wbi_developing") -> Any:
    """Balance components with 95 % margins, NRW, real and apparent losses, UARL, ILI and band."""
    body = await request.body()
    return services.compute_audit(body, request.headers.get("content-type", ""), scheme)


@router.get("/dma/{name}", response_model=ReportPublic, responses=error_responses(400, 404))
def dma(
    state: StateDep,
    store: StoreDep,
    _: Viewer,
    name: Annotated[str, Path(max_length=64, description="a DMA of the network's DMA file")],
    start: Annotated[str, Query(alias="from", pattern=MONTH_PATTERN, description="first month YYYY-MM")],
    end: Annotated[
        str,
        Query(
            alias="to",
            pattern=MONTH_PATTERN,
            description="last month YYYY-MM, included; a period without readings: 404",
        ),
    ],
    scheme: Scheme = "wbi_developing",
) -> Any:
    """Monthly and period water balance of a DMA from its meters, with night-flow leakage."""
    return services.dma_report(store, state.model(), name, start, end, scheme, state.billing())
