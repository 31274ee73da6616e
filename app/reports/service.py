"""The report catalogue, and running one report for a caller inside their jurisdiction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.orm import Session

from app.access import Caller
from app.access.reports import report_region
from app.db import EARLIEST_DAY, china_today
from app.errors import NotFound, Unprocessable
from app.regions.service import require_known
from app.reports import activity, territory
from app.reports.common import Report, ReportParams

DEFAULT_RANGE_DAYS = 365
MAX_RANGE_DAYS = 5 * 366
# The window a range must lie in: no pairing predates it, and a range may reach a year ahead (a plan's end).
LATEST_DAYS_AHEAD = 366


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


def report_range(date_from: date | None, date_to: date | None) -> tuple[date, date]:
    """The range of a report: by default the last 365 China days; at most five years, inside the window."""
    today = china_today()
    latest = today + timedelta(days=LATEST_DAYS_AHEAD)
    end = date_to or today
    if not EARLIEST_DAY <= end <= latest or (date_from is not None and not date_from >= EARLIEST_DAY):
        raise Unprocessable(
            code="invalid_date_range",
            detail=(
                f"日期须在 {EARLIEST_DAY.isoformat()} 至 {latest.isoformat()} 之间",
                f"dates must lie between {EARLIEST_DAY.isoformat()} and {latest.isoformat()}",
            ),
            earliest=EARLIEST_DAY.isoformat(),
            latest=latest.isoformat(),
        )
    start = date_from or max(EARLIEST_DAY, end - timedelta(days=DEFAULT_RANGE_DAYS - 1))
    if start > end:
        raise Unprocessable(
            code="invalid_date_range",
            detail=("开始日期晚于结束日期", "the start date is after the end date"),
        )
    if (end - start).days > MAX_RANGE_DAYS:
        raise Unprocessable(
            code="invalid_date_range",
            detail=("时间段最长五年", "a date range spans at most five years"),
        )
    return start, end


def spec_of(name: str) -> ReportSpec:
    """The catalogue entry of a report; an unknown name is a resource that does not exist (404)."""
    spec = CATALOGUE.get(name)
    if spec is None:
        raise NotFound(
            code="unknown_report",
            detail=("没有这个报表", "there is no such report"),
            allowed=list(CATALOGUE),
        )
    return spec


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
    spec = spec_of(name)
    if by is not None and by not in spec.groupings:
        names = ", ".join(spec.groupings)
        raise Unprocessable(
            code="invalid_grouping",
            detail=(f"该报表可按以下方式分组：{names}", f"this report groups by one of: {names}")
            if spec.groupings
            else ("该报表不分组，请去掉 by", "this report takes no grouping: leave out `by`"),
            allowed=list(spec.groupings),
        )
    start, end = report_range(date_from, date_to)
    scope = report_region(caller, region)
    if region is not None:
        require_known(session, region)
    params = ReportParams(scope, start, end, by or (spec.groupings or (None,))[0])
    return spec.build(session, params)
