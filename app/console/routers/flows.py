"""Flows: a map of pairs between provinces, the flow matrix, and match rate by penetration quintile."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.console import charts
from app.console.render import page
from app.console.session import CoordinatorPage
from app.deps import SessionDep as Db
from app.reports.flows import match_rate_by_quintile, province_flows, provinces

router = APIRouter(prefix="/console/flows", include_in_schema=False)


@router.get("")
def flows(request: Request, caller: CoordinatorPage, db: Db) -> Response:
    """Where newcomers are and where their mentors are, as a map and a matrix."""
    matrix = province_flows(db, caller)
    places = provinces(db)
    involved = {a for a, _ in matrix} | {b for _, b in matrix}
    largest = max(matrix.values(), default=0)
    lines = [
        (
            *charts.project(places[a].lat, places[a].lon),
            *charts.project(places[b].lat, places[b].lon),
            charts.stroke(n, largest),
            places[a].name,
            places[b].name,
            n,
        )
        for (a, b), n in sorted(matrix.items(), key=lambda kv: kv[1])
        if a in places and b in places and a != b
    ]
    points = [(*charts.project(p.lat, p.lon), p.name, p.code in involved) for p in places.values()]
    rows = sorted({a for a, _ in matrix})
    cols = sorted({b for _, b in matrix})
    return page(
        request,
        "flows/flows.html",
        {
            "matrix": matrix,
            "rows": rows,
            "cols": cols,
            "places": places,
            "largest": largest,
            "lines": lines,
            "points": points,
            "width": charts.WIDTH,
            "height": charts.HEIGHT,
            "quintiles": match_rate_by_quintile(db, caller),
        },
        caller=caller,
    )
