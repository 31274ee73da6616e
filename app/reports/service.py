"""The report catalogue, and running one report for a caller inside their jurisdiction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.orm import Session

from app.access import Caller
from app.access.reports import report_region
from app.db import china_today
from app.errors import Unprocessable
from app.reports import activity, territory
from app.reports.common import Report, ReportParams

DEFAULT_RANGE_DAYS = 365
MAX_RANGE_DAYS = 5 * 366


@dataclass(frozen=True, slots=True)
class ReportSpec:
    """A report's builder and the groupings it accepts (the first is the default)."""

    build: Callable[[Session, ReportParams], Report]
    groupings: tuple[str, ...] = ()


CATALOGUE: dict[str, ReportSpec] = {
    "reach": ReportSpec(activity.reach, ("county", "mentor", "province")),
    "fulfilment": ReportSpec(activity.fulfilment, ("mentor", "county", "province")),
    "outcomes": ReportSpec(activity.outcomes, ("pairing", "mentor", "county", "province")),
    "flows": ReportSpec(activity.flows),
    "gaps": ReportSpec(territory.gaps),
    "equity": ReportSpec(territory.equity),
    "homogenisation": ReportSpec(territory.homogenisation),
}
REPORT_NAMES = tuple(CATALOGUE)


def run_report(
    session: Session,
    *,
    caller: Caller,
    name: str,
    region: str | None,
    date_from: date | None,
    date_to: date | None,
    by: str | None,
) -> Report:
    """Compute one report by SQL aggregation for the caller's jurisdiction and a date range."""
    spec = CATALOGUE[name]
    if by is not None and by not in spec.groupings:
        raise Unprocessable(
            code="invalid_grouping",
            detail=(f"该报表可按 {spec.groupings} 分组", f"this report groups by one of {spec.groupings}"),
        )
    end = date_to or china_today()
    start = date_from or end - timedelta(days=DEFAULT_RANGE_DAYS - 1)
    if start > end or (end - start).days > MAX_RANGE_DAYS:
        raise Unprocessable(
            code="invalid_date_range",
            detail=("起止日期不正确（最长五年）", "bad date range (at most five years)"),
        )
    params = ReportParams(report_region(caller, region), start, end, by or (spec.groupings or (None,))[0])
    return spec.build(session, params)
