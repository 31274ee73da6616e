"""Flows: the flows report on a map and as a matrix, beside the equity report's match rate by quintile."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from app.console import charts, report_views
from app.console.forms import ReportFilter
from app.console.i18n import console_language, error_text
from app.console.render import page
from app.console.session import CoordinatorPage
from app.deps import SessionDep as Db
from app.errors import NotFound, Unprocessable
from app.reports import service
from app.reports.provinces import province_centres

router = APIRouter(prefix="/console/flows", include_in_schema=False)


@router.get("")
def flows(request: Request, caller: CoordinatorPage, db: Db, f: Annotated[ReportFilter, Query()]) -> Response:
    """Between which provinces the pairs run, and how many newcomers of each quintile are matched.

    The figures are the `flows` and `equity` reports' for the same range and region (one definition of a
    flow and of a county's quintile), so this page, the API and the downloads agree.
    """
    try:
        flows_report, equity = [
            service.run_report(
                db, caller=caller, name=n, region=f.region, date_from=f.date_from, date_to=f.date_to, by=None
            )
            for n in ("flows", "equity")
        ]
    except (Unprocessable, NotFound) as exc:
        # A bad range or a region outside the jurisdiction: the form again, with the reason, as on the
        # report pages.
        return page(
            request,
            "flows/flows.html",
            {"f": f, "report": None, "error": error_text(exc, console_language(request))},
            caller=caller,
            status_code=exc.status,
        )
    p = flows_report.params
    fields = {"date_from": p.date_from.isoformat(), "date_to": p.date_to.isoformat(), "region": f.region}
    return page(
        request,
        "flows/flows.html",
        {
            "f": f,
            "report": flows_report,
            "error": None,
            "query": urlencode({k: v for k, v in fields.items() if v}),
            "map": report_views.flow_map(flows_report, province_centres(db)),
            "matrix": report_views.flow_matrix(flows_report),
            "quintiles": equity.records(),
            "definitions": [*flows_report.definitions, *equity.definitions],
            "definition": lambda text: report_views.definition(text, console_language(request)),
            "width": charts.WIDTH,
            "height": charts.HEIGHT,
        },
        caller=caller,
    )
