"""``/api/v1/network``: nodes, links and DMAs as GeoJSON in model coordinates."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from tirta.api import services
from tirta.api.deps import StateDep, Viewer
from tirta.api.models import FeatureCollectionPublic

router = APIRouter(prefix="/network", tags=["network"])

Limit = Annotated[int, Query(ge=1, le=10_000, description="features per page")]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]


@router.get("/nodes", response_model=FeatureCollectionPublic)
def nodes(state: StateDep, _: Viewer, limit: Limit = 1000, offset: Offset = 0) -> Any:
    """Junctions, tanks and reservoirs as points: type, elevation_m, base_demand_m3s."""
    return services.nodes_geojson(state.model()[0], limit, offset)


@router.get("/links", response_model=FeatureCollectionPublic)
def links(state: StateDep, _: Viewer, limit: Limit = 1000, offset: Offset = 0) -> Any:
    """Pipes, pumps and valves as lines between their end nodes: length_m, diameter_m, roughness."""
    return services.links_geojson(state.model()[0], limit, offset)


@router.get("/dmas", response_model=FeatureCollectionPublic)
def dmas(state: StateDep, _: Viewer) -> Any:
    """District metered areas: polygon, or the points of their nodes; inlets, outlets, connections."""
    return services.dmas_geojson(*state.model())
