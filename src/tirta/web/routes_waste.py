"""The dashboard's waste page: streams and diversion over time, landfill gas and power with the modelled
band and the engines' actual years (data from :mod:`tirta.web.wastedata`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tirta.web import wastedata
from tirta.web.session import PageUser
from tirta.web.state import render

router = APIRouter(include_in_schema=False)


@router.get("/waste")
def waste(request: Request, user: PageUser) -> Response:
    """Waste KPIs per site and city-wide, monthly streams and diversion, gas and power curves."""
    data, error = wastedata.waste_page(request)
    return render(request, "waste.html", user=user, page="waste", data=data, error=error)
