"""Reports for coordinators, scoped to their jurisdiction: JSON, XLSX or CSV."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import StreamingResponse

from app.deps import CoordinatorUser, SessionDep
from app.openapi import problems
from app.reports import exports, service
from app.reports.common import Report
from app.reports.schemas import Definition, ReportInfo, ReportRead
from app.schemas import RegionCodeStr

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])
MEDIA = exports.MEDIA


def _read(report: Report) -> ReportRead:
    return ReportRead(
        report=report.name,
        title_zh=report.title[0],
        title_en=report.title[1],
        scope=report.params.scope,
        date_from=report.params.date_from,
        date_to=report.params.date_to,
        by=report.params.by,
        columns=report.columns,
        rows=report.records(),
        definitions=[Definition(zh=zh, en=en) for zh, en in report.definitions],
        extra=report.extra,
    )


@router.get("", response_model=list[ReportInfo], responses=problems(401, 403))
def catalogue(caller: CoordinatorUser) -> list[ReportInfo]:
    """The reports there are and how each can be grouped."""
    return [ReportInfo(report=n, groupings=list(s.groupings)) for n, s in service.CATALOGUE.items()]


@router.get(
    "/{report}",
    response_model=ReportRead,
    responses={
        **problems(401, 403, 404, 422),
        200: {"content": {"application/json": {}, MEDIA["xlsx"]: {}, MEDIA["csv"]: {}}},
    },
)
def get_report(
    report: Annotated[
        str, Path(max_length=32, description=f"Which report: one of {', '.join(service.REPORT_NAMES)}")
    ],
    caller: CoordinatorUser,
    session: SessionDep,
    date_from: date | None = None,
    date_to: date | None = None,
    by: Annotated[str | None, Query(max_length=16, description="Grouping; see the catalogue")] = None,
    region: Annotated[RegionCodeStr | None, Query(description="A region inside your jurisdiction")] = None,
    format: Literal["json", "xlsx", "csv"] = "json",
) -> ReportRead | StreamingResponse:
    """One report over a date range (default: the last 365 days) for your jurisdiction or a part of it."""
    result = service.run_report(
        session, caller=caller, name=report, region=region, date_from=date_from, date_to=date_to, by=by
    )
    if format == "json":
        return _read(result)
    return exports.download(result, format)
