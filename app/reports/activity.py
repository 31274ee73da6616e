"""Reports on what matches did: reach, commitment fulfilment, outcomes, inter-province flows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, or_, select
from sqlalchemy.orm import Session

from app.aggregates import grouped_median
from app.models import Commitment, MatchOutcome, Mentor, Region
from app.models.outcomes import ENDINGS
from app.reports.common import (
    RANGE_DEFINITION,
    TITLES,
    Report,
    ReportParams,
    activated,
    activated_between,
    count_distinct,
    first_sale_in_window,
    fulfilment_rate,
    province_names,
    province_of,
    ratio,
    scoped,
    total,
)

PAIRING_LABELS = {"same_trade": "同行业", "chain": "产业链上下游", "other": "其他"}


def _key(by: str) -> ColumnElement[Any]:
    if by == "mentor":
        return MatchOutcome.mentor_id
    if by == "county":
        return MatchOutcome.newcomer_county_code
    if by == "province":
        return province_of(MatchOutcome.newcomer_county_code)
    return MatchOutcome.pairing_type


def _named(session: Session, by: str, agg: Any, metrics: list[str]) -> list[tuple[Any, ...]]:
    """Attach a display name to each group key and order the rows by it."""
    cols = [agg.c[m] for m in metrics]
    if by == "mentor":
        stmt: Select[Any] = select(agg.c.key, Mentor.name, Mentor.county_code, *cols).join(
            Mentor, Mentor.id == agg.c.key
        )
        return [tuple(r) for r in session.execute(stmt.order_by(agg.c.key))]
    if by in ("county", "province"):
        names = province_names() if by == "province" else Region.__table__
        stmt = select(agg.c.key, names.c.name, agg.c.key, *cols).outerjoin(names, names.c.code == agg.c.key)
        return [tuple(r) for r in session.execute(stmt.order_by(agg.c.key))]
    rows = session.execute(select(agg.c.key, *cols).order_by(agg.c.key))
    return [(r[0], PAIRING_LABELS.get(r[0], r[0]), None, *r[1:]) for r in rows]


def reach(session: Session, params: ReportParams) -> Report:
    """Newcomers reached per mentor, county or province."""
    by = params.by or "county"
    base = activated(
        params,
        key=_key(by),
        newcomer_id=MatchOutcome.newcomer_id,
        mentor_id=MatchOutcome.mentor_id,
        ended_as=MatchOutcome.ended_as,
    ).subquery("reached")
    newcomers = count_distinct(
        base,
        ["key"],
        "newcomer_id",
        "newcomers_reached",
        matches=func.count(),
        # An activated match is active until it ends as completed or cancelled.
        active=func.sum(case((base.c.ended_as.is_(None), 1), else_=0)),
        **{s: func.sum(case((base.c.ended_as == s, 1), else_=0)) for s in ENDINGS},
    )
    mentors = count_distinct(base, ["key"], "mentor_id", "mentors")
    agg = select(newcomers, mentors.c.mentors).join(mentors, mentors.c.key == newcomers.c.key).subquery()
    metrics = ["newcomers_reached", "mentors", "matches", "active", "completed", "cancelled"]
    return Report(
        "reach",
        TITLES["reach"],
        params,
        ["key", "name", "region_code", *metrics],
        _named(session, by, agg, metrics),
        [
            RANGE_DEFINITION,
            (
                "newcomers_reached：范围内生效结对的不同新农人数。",
                "newcomers_reached: distinct newcomers of matches that became active in the range.",
            ),
            ("mentors：这些结对中的不同导师数。", "mentors: distinct mentors of those matches."),
            (
                "active / completed / cancelled：这些结对目前的状态。",
                "active / completed / cancelled: the current state of those matches.",
            ),
        ],
    )


def fulfilment(session: Session, params: ReportParams) -> Report:
    """Commitment fulfilment per mentor, county or province."""
    by = params.by or "mentor"
    base = activated(params, key=_key(by), match_id=MatchOutcome.match_id).subquery()
    # Per match first (a match has several commitments), then per group: no COUNT(DISTINCT). Grouped by
    # the match alone (its key is the same on each of its rows) so the rows, merged in match order from
    # the two indexes, are summed as they stream by instead of in a hash table of every match.
    per_match = (
        select(
            func.min(base.c.key).label("key"),
            func.count().label("commitments"),
            *(
                func.sum(c).label(c.key)
                for c in (Commitment.done_count, Commitment.partial_count, Commitment.missed_count)
            ),
        )
        .select_from(base)
        .join(Commitment, Commitment.match_id == base.c.match_id)
        .group_by(base.c.match_id)
        .subquery()
    )
    done, partial, missed = (
        func.coalesce(total(per_match.c[c]), 0) for c in ("done_count", "partial_count", "missed_count")
    )
    agg = (
        select(
            per_match.c.key,
            func.count().label("matches"),
            total(per_match.c.commitments).label("commitments"),
            done.label("done"),
            partial.label("partial"),
            missed.label("missed"),
            fulfilment_rate(done, partial, missed).label("fulfilment_rate"),
        )
        .group_by(per_match.c.key)
        .subquery()
    )
    metrics = ["matches", "commitments", "done", "partial", "missed", "fulfilment_rate"]
    return Report(
        "fulfilment",
        TITLES["fulfilment"],
        params,
        ["key", "name", "region_code", *metrics],
        _named(session, by, agg, metrics),
        [
            RANGE_DEFINITION,
            (
                "done / partial / missed：这些结对全部承诺的打卡周期数（逾期未打卡的周期记为未完成）。",
                (
                    "done / partial / missed: check-in periods of all commitments of those matches (a "
                    "lapsed period counts as missed)."
                ),
            ),
            (
                (
                    "fulfilment_rate =（完成周期 + ½ × 部分完成）/（完成周期 + 部分完成 + 未完成）；"
                    "无周期时为空。"
                ),
                (
                    "fulfilment_rate = (done + ½ partial) / (done + partial + missed); empty when no "
                    "period has passed."
                ),
            ),
        ],
    )


def outcomes(session: Session, params: ReportParams) -> Report:
    """First sale within 90 days, median days to it, growth in orders; by mentor, region or pairing."""
    by = params.by or "pairing"
    base = activated(
        params, key=_key(by), days=MatchOutcome.days_to_first_sale, growth=MatchOutcome.orders_growth
    ).subquery("activated")
    median = grouped_median(session, base, "key", "days").subquery()
    counts = (
        select(
            base.c.key,
            func.count().label("matches"),
            func.sum(first_sale_in_window(base.c.days)).label("first_sale_90d"),
            func.count(base.c.days).label("with_first_sale"),
            func.count(base.c.growth).label("with_orders_report"),
            func.avg(base.c.growth * 1.0).label("mean_orders_growth"),
        )
        .group_by(base.c.key)
        .subquery()
    )
    agg = (
        select(
            counts.c.key,
            counts.c.matches,
            counts.c.first_sale_90d,
            ratio(counts.c.first_sale_90d, counts.c.matches).label("share_first_sale_90d"),
            counts.c.with_first_sale,
            median.c.median.label("median_days_to_first_sale"),
            counts.c.with_orders_report,
            counts.c.mean_orders_growth,
        )
        .outerjoin(median, median.c.key == counts.c.key)
        .subquery()
    )
    metrics = [
        "matches",
        "first_sale_90d",
        "share_first_sale_90d",
        "with_first_sale",
        "median_days_to_first_sale",
        "with_orders_report",
        "mean_orders_growth",
    ]
    return Report(
        "outcomes",
        TITLES["outcomes"],
        params,
        ["key", "name", "region_code", *metrics],
        _named(session, by, agg, metrics),
        [
            RANGE_DEFINITION,
            (
                (
                    "first_sale_90d：生效后 90 天内（含）报告首单的结对数；"
                    "share_first_sale_90d 为其占全部结对之比。"
                ),
                (
                    "first_sale_90d: matches whose first online sale came within 90 days of activation "
                    "(inclusive); share_first_sale_90d divides by all matches of the group."
                ),
            ),
            (
                "median_days_to_first_sale：已有首单的结对，从生效到首单天数的中位数。",
                (
                    "median_days_to_first_sale: median days from activation to first sale, over matches "
                    "that have one."
                ),
            ),
            (
                "mean_orders_growth：最近一次月报订单数减去生效时基线订单数的平均值，仅计有月报的结对。",
                (
                    "mean_orders_growth: mean of (latest monthly orders − baseline monthly orders), over "
                    "matches with a monthly report."
                ),
            ),
            (
                (
                    "pairing：同行业为双方主营品类同属一类，产业链上下游为两者在产业链上相隔一环"
                    "（优先），其他为其余。"
                ),
                (
                    "pairing: same trade (same_trade) when the two main products share a category group, "
                    "up/downstream (chain) when they are one link apart on the industrial chain (takes "
                    "precedence), other (other) otherwise."
                ),
            ),
        ],
    )


def flows(session: Session, params: ReportParams) -> Report:
    """Matches from each mentor province to each newcomer province: the inter-province matrix."""
    pairs = (
        select(
            province_of(MatchOutcome.mentor_county_code).label("from_province"),
            province_of(MatchOutcome.newcomer_county_code).label("to_province"),
            MatchOutcome.newcomer_id,
        )
        .where(
            activated_between(params),
            # Both directions concern a jurisdiction: its mentors helping elsewhere, and help it receives.
            or_(
                scoped(MatchOutcome.newcomer_county_code, params.scope),
                scoped(MatchOutcome.mentor_county_code, params.scope),
            ),
        )
        .subquery()
    )
    agg = count_distinct(
        pairs, ["from_province", "to_province"], "newcomer_id", "newcomers", matches=func.count()
    )
    src, dst = province_names().alias("src"), province_names().alias("dst")
    stmt = (
        select(agg.c.from_province, src.c.name, agg.c.to_province, dst.c.name, agg.c.matches, agg.c.newcomers)
        .outerjoin(src, src.c.code == agg.c.from_province)
        .outerjoin(dst, dst.c.code == agg.c.to_province)
        .order_by(agg.c.from_province, agg.c.to_province)
    )
    rows = [tuple(r) for r in session.execute(stmt)]
    provinces = sorted({r[0] for r in rows} | {r[2] for r in rows})
    index = {p: i for i, p in enumerate(provinces)}
    matrix = [[0] * len(provinces) for _ in provinces]
    for r in rows:
        matrix[index[r[0]]][index[r[2]]] = r[4]
    return Report(
        "flows",
        TITLES["flows"],
        params,
        ["from_province", "from_name", "to_province", "to_name", "matches", "newcomers"],
        rows,
        [
            (
                "时间范围按结对生效日期计；导师或新农人任一方在辖区内的结对都计入。",
                (
                    "The range applies to activation day; a match counts when its mentor or its newcomer "
                    "lies in the jurisdiction."
                ),
            ),
            (
                ("行为导师所在省，列为新农人所在省，每格为两省之间的结对数。"),
                (
                    "Rows are the mentors' provinces, columns the newcomers', and each cell counts the "
                    "matches between the two (in the API, matrix[i][j]: provinces[i] to provinces[j])."
                ),
            ),
        ],
        {"provinces": provinces, "matrix": matrix},
    )
