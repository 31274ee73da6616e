"""What every report shares: its parameters, its result shape, the scope filter and the grouping keys."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Float, Integer, Select, Subquery, and_, case, cast, func, select, true

from app.access.regions import under
from app.models import MatchOutcome, Region

Bilingual = tuple[str, str]

# The outcomes and equity reports' "first sale within 90 days of activation".
FIRST_SALE_WINDOW_DAYS = 90

# Each report's title, by its name in the catalogue (the report bodies and the console's index use it).
TITLES: dict[str, Bilingual] = {
    "reach": ("结对覆盖", "Reach"),
    "fulfilment": ("承诺履行", "Commitment fulfilment"),
    "outcomes": ("经营成效", "Outcomes"),
    "flows": ("跨省结对流向", "Inter-province flows"),
    "gaps": ("覆盖缺口", "Coverage gaps"),
    "equity": ("公平性（按县电商渗透率五分位）", "Equity by county penetration quintile"),
    "homogenisation": ("同质化风险", "Homogenisation risk"),
}


@dataclass(frozen=True, slots=True)
class ReportParams:
    """A report request: the jurisdiction prefix ('' for nationwide), the date range, the grouping."""

    scope: str
    date_from: date
    date_to: date
    by: str | None = None


@dataclass(slots=True)
class Report:
    """A computed report: a table of aggregated rows with the definitions that explain its columns."""

    name: str
    title: Bilingual
    params: ReportParams
    columns: list[str]
    rows: Sequence[Sequence[Any]]
    definitions: list[Bilingual]
    extra: dict[str, Any] = field(default_factory=dict)

    def records(self) -> list[dict[str, Any]]:
        """The rows as column -> value (the JSON body's rows, and what the console pages read)."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def scoped(column: ColumnElement[str], scope: str) -> ColumnElement[bool]:
    """Region codes under the scope prefix (every code for the nationwide scope)."""
    return true() if not scope else under(column, scope)


def activated_between(params: ReportParams) -> ColumnElement[bool]:
    """Matches whose activation day lies in the range, both ends included (wherever they are)."""
    return and_(MatchOutcome.activated_on >= params.date_from, MatchOutcome.activated_on <= params.date_to)


def activated_in_range(params: ReportParams) -> ColumnElement[bool]:
    """Matches whose activation day lies in the range, newcomer inside the scope."""
    return and_(activated_between(params), scoped(MatchOutcome.newcomer_county_code, params.scope))


def activated(params: ReportParams, **columns: ColumnElement[Any]) -> Select[Any]:
    """The columns a report needs of each match activated in the range inside the scope.

    One table: the outcome row carries the match's parties, counties and ending, so no report joins
    back through matches. Reports aggregate this set by hash; distinct counts go through
    `count_distinct` (two grouping steps) rather than COUNT(DISTINCT).
    """
    return select(*(column.label(name) for name, column in columns.items())).where(activated_in_range(params))


def total(column: ColumnElement[Any]) -> ColumnElement[int]:
    """SUM of counts as an integer (PostgreSQL widens a sum of bigint counts to numeric)."""
    return cast(func.sum(column), Integer)


def count_distinct(
    source: Subquery,
    keys: Sequence[str],
    member: str,
    label: str,
    **sums: ColumnElement[Any],
) -> Subquery:
    """Per group of `keys`: the distinct `member`s as `label`, and each of `sums` added up.

    Two grouping steps, per (keys, member) then per keys, both by hash: PostgreSQL computes
    COUNT(DISTINCT) only by sorting every row. Each of `sums` is an aggregate over the rows of one
    (keys, member) group (e.g. func.count() for the rows), totalled in the second step.
    """
    group = [source.c[k] for k in keys]
    per_member = (
        select(*group, *(agg.label(name) for name, agg in sums.items()))
        .group_by(*group, source.c[member])
        .subquery()
    )
    outer = [per_member.c[k] for k in keys]
    return (
        select(*outer, func.count().label(label), *(total(per_member.c[name]).label(name) for name in sums))
        .group_by(*outer)
        .subquery()
    )


def ratio(num: ColumnElement[Any], den: ColumnElement[Any]) -> ColumnElement[float]:
    """num / den as a float, NULL (not an error) when den is 0."""
    return cast(num, Float) / func.nullif(den, 0)


def fulfilment_rate(
    done: ColumnElement[Any], partial: ColumnElement[Any], missed: ColumnElement[Any]
) -> ColumnElement[float]:
    """(done + ½ partial) / (done + partial + missed) check-in periods; NULL when none has passed."""
    return ratio(done + 0.5 * partial, done + partial + missed)


def first_sale_in_window(days_to_first_sale: ColumnElement[Any]) -> ColumnElement[int]:
    """1 for a match whose first sale came within FIRST_SALE_WINDOW_DAYS of activation, else 0."""
    return case((days_to_first_sale <= FIRST_SALE_WINDOW_DAYS, 1), else_=0)


def province_of(column: ColumnElement[str]) -> ColumnElement[str]:
    """The 2-digit province code of a county code."""
    return func.substr(column, 1, 2)


def province_names() -> Subquery:
    """Province codes and names: the regions without a parent (34 rows by an index, not a scan of all)."""
    return select(Region.code, Region.name).where(Region.parent_code.is_(None)).subquery()


RANGE_DEFINITION: Bilingual = (
    "时间范围按结对生效（双方接受）的日期计，含首尾两天；辖区按新农人所在县计。",
    "The range applies to the day a match became active (both parties accepted), both ends included; "
    "the jurisdiction applies to the newcomer's county.",
)
