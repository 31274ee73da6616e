"""Reports: the catalogue, each report as charts, a table and its definitions, and its XLSX/CSV download."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from app.console import report_views
from app.console.forms import ReportDownload, ReportFilter
from app.console.i18n import console_language, error_text
from app.console.render import page
from app.console.session import CoordinatorPage
from app.deps import SessionDep as Db
from app.errors import NotFound, Unprocessable
from app.regions.service import names_of
from app.reports import exports, service
from app.reports.common import TITLES, Report
from app.taxonomy.service import category_names

router = APIRouter(prefix="/console/reports", include_in_schema=False)
# A plain string: an unknown name is a 404 (service.spec_of), not a validation error.
ReportName = Annotated[str, Path(max_length=32)]


@router.get("")
def catalogue(request: Request, caller: CoordinatorPage) -> Response:
    """The reports there are, each with the question it answers."""
    return page(
        request,
        "reports/index.html",
        {"reports": [(name, TITLES[name], spec.groupings) for name, spec in service.CATALOGUE.items()]},
        caller=caller,
    )


def _query(report: Report) -> str:
    """The effective parameters, so a download and a link give the same figures as the page."""
    p = report.params
    fields = {"date_from": p.date_from.isoformat(), "date_to": p.date_to.isoformat(), "by": p.by}
    return urlencode({k: v for k, v in fields.items() if v})


def _scope_name(db: Db, scope: str) -> str | None:
    return names_of(db, {scope}).get(scope) if scope else None


@router.get("/{report}")
def report_page(
    request: Request, report: ReportName, caller: CoordinatorPage, db: Db, f: Annotated[ReportFilter, Query()]
) -> Response:
    """One report for your jurisdiction or a region inside it, over a range: charts, table, definitions."""
    spec = service.spec_of(report)
    lang = console_language(request)
    context = {
        "name": report,
        "title": TITLES[report],
        "groupings": spec.groupings,
        "f": f,
    }
    try:
        result = service.run_report(
            db, caller=caller, name=report, region=f.region, date_from=f.date_from, date_to=f.date_to, by=f.by
        )
    except (Unprocessable, NotFound) as exc:
        # A bad range or grouping, or a region outside the jurisdiction: the form again, with the
        # reason, instead of an error page.
        return page(
            request,
            "reports/report.html",
            {**context, "report": None, "error": error_text(exc, lang)},
            caller=caller,
            status_code=exc.status,
        )
    region_query = urlencode({"region": f.region}) if f.region else ""
    query = "&".join(q for q in (_query(result), region_query) if q)
    categories = category_names(db, report_views.categories_of(result))
    return page(
        request,
        "reports/report.html",
        {
            **context,
            "report": result,
            "error": None,
            "query": query,
            "scope_name": _scope_name(db, result.params.scope),
            "charts": report_views.charts(result, lang, categories),
            "columns": [(c, report_views.column_label(c, lang)) for c in report_views.shown_columns(result)],
            "text_columns": report_views.TEXT_COLUMNS,
            "rows": report_views.table(result, lang, categories),
            "row_count": len(result.rows),
            "cut": report_views.TABLE_ROWS,
            "matrix": report_views.flow_matrix(result) if report == "flows" else None,
            "definition": lambda text: report_views.definition(text, lang),
        },
        caller=caller,
    )


@router.get("/{report}/export")
def export(
    request: Request,
    report: ReportName,
    caller: CoordinatorPage,
    db: Db,
    f: Annotated[ReportDownload, Query()],
) -> Response:
    """The same report as an XLSX (streamed, write-only) or CSV download, worded as the page is."""
    result = service.run_report(
        db, caller=caller, name=report, region=f.region, date_from=f.date_from, date_to=f.date_to, by=f.by
    )
    categories = category_names(db, report_views.categories_of(result))
    scope_name = _scope_name(db, result.params.scope)
    sheet = report_views.worded_sheet(result, console_language(request), categories, scope_name)
    return exports.download(result, f.format, sheet)
