"""``/api/v1/public`` downloads: published KPIs and monthly NRW per DMA as CSV and JSON, with a licence."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from tirta.api import opendata
from tirta.api.deps import StateDep
from tirta.reports.render import rows_to_csv

router = APIRouter(prefix="/public", tags=["public"])


def _download(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


def _csv(rows: list[dict[str, Any]], name: str) -> Response:
    return Response(rows_to_csv(rows), media_type="text/csv; charset=utf-8", headers=_download(name))


@router.get("/kpis.json")
def kpis_json(state: StateDep) -> Any:
    """The published KPIs (latest period, history, data validity, licence) as a JSON download."""
    return JSONResponse(opendata.published(state.settings.kpis_file), headers=_download("kpis.json"))


@router.get("/kpis.csv", response_class=Response)
def kpis_csv(state: StateDep) -> Response:
    """The published KPIs, one row per period and indicator with unit, flags and licence, as CSV."""
    return _csv(opendata.published_rows(state.settings.kpis_file), "kpis.csv")


def _dma_rows(state: Any) -> list[dict[str, Any]]:
    return opendata.dma_nrw(state.store, state.model(), state.billing(), state.settings.kpis_file)


@router.get("/dma-nrw.json")
def dma_nrw_json(state: StateDep) -> Any:
    """Monthly NRW per DMA (aggregate volumes only), with the licence, as a JSON download."""
    rows = _dma_rows(state)
    licence = rows[0]["licence"] if rows else opendata.published(state.settings.kpis_file)["licence"]
    return JSONResponse({"licence": licence, "months": rows}, headers=_download("dma-nrw.json"))


@router.get("/dma-nrw.csv", response_class=Response)
def dma_nrw_csv(state: StateDep) -> Response:
    """Monthly NRW per DMA as CSV, one row per DMA and month with the licence."""
    return _csv(_dma_rows(state), "dma-nrw.csv")
