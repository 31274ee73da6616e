"""Reports on places: coverage gaps, equity by county penetration quintile, homogenisation risk."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, and_, case, cast, func, or_, select
from sqlalchemy.orm import Session

from app.db import china_midnight
from app.models import Category, Match, MatchOutcome, Mentor, Newcomer, NewcomerProduct, Region
from app.reports.common import (
    RANGE_DEFINITION,
    TITLES,
    Report,
    ReportParams,
    activated,
    count_distinct,
    first_sale_in_window,
    ratio,
    scoped,
    total,
)

# A newcomer with one of these has been helped (or is being helped), so is not waiting. One whose match
# was cancelled, declined or rejected waits again: they need a mentor as much as one never paired.
HELPED = ("approved", "active", "completed")
HOMOGENISATION_MIN_NEWCOMERS = 5
HOMOGENISATION_MIN_SHARE = 0.5
QUINTILES = 5


def _existing_by_end(params: ReportParams) -> ColumnElement[bool]:
    """Active newcomer profiles in scope that existed at the end of the range."""
    end = china_midnight(params.date_to + timedelta(days=1))
    return and_(
        Newcomer.is_active.is_(True), Newcomer.created_at < end, scoped(Newcomer.county_code, params.scope)
    )


PROFILES_DEFINITION = (
    "新农人数为范围结束时已存在、仍在用的档案（按所在县）。",
    "Newcomers are active profiles that existed at the end of the range, by their county.",
)


def _share(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def penetration_quintiles() -> Select[Any]:
    """Each county with a known penetration and its quintile: code, penetration, q (1 = least penetrated).

    Nationwide whatever the caller's jurisdiction, so a county's quintile is the same in every report;
    ties are broken by the code so that a county never moves between two runs.
    """
    return select(
        Region.code.label("code"),
        Region.penetration.label("penetration"),
        func.ntile(QUINTILES).over(order_by=(Region.penetration, Region.code)).label("q"),
    ).where(Region.level == "county", Region.penetration.is_not(None))


def gaps(session: Session, params: ReportParams) -> Report:
    """Counties with newcomers waiting and no active match, and counties with no mentor."""
    helped = select(Match.newcomer_id).where(Match.status.in_(HELPED)).distinct().subquery()
    newcomers = (
        select(
            Newcomer.county_code.label("county"),
            func.count().label("newcomers"),
            func.sum(case((helped.c.newcomer_id.is_(None), 1), else_=0)).label("waiting"),
        )
        .outerjoin(helped, helped.c.newcomer_id == Newcomer.id)
        .where(_existing_by_end(params))
        .group_by(Newcomer.county_code)
        .subquery()
    )
    active = (
        select(Match.newcomer_county_code.label("county"), func.count().label("n"))
        .where(Match.status == "active", scoped(Match.newcomer_county_code, params.scope))
        .group_by(Match.newcomer_county_code)
        .subquery()
    )
    mentors = (
        select(Mentor.county_code.label("county"), func.count().label("n"))
        .where(Mentor.is_active.is_(True), scoped(Mentor.county_code, params.scope))
        .group_by(Mentor.county_code)
        .subquery()
    )
    active_n, mentors_n = func.coalesce(active.c.n, 0), func.coalesce(mentors.c.n, 0)
    no_active = and_(newcomers.c.waiting > 0, active_n == 0)
    stmt = (
        select(
            newcomers.c.county,
            Region.name,
            newcomers.c.newcomers,
            newcomers.c.waiting,
            active_n,
            mentors_n,
            case((no_active, True), else_=False),
            case((mentors_n == 0, True), else_=False),
        )
        .outerjoin(active, active.c.county == newcomers.c.county)
        .outerjoin(mentors, mentors.c.county == newcomers.c.county)
        .outerjoin(Region, Region.code == newcomers.c.county)
        .where(or_(no_active, mentors_n == 0))
        .order_by(newcomers.c.waiting.desc(), newcomers.c.county)
    )
    rows = [(*r[:6], bool(r[6]), bool(r[7])) for r in session.execute(stmt)]
    return Report(
        "gaps",
        TITLES["gaps"],
        params,
        [
            "county_code",
            "name",
            "newcomers",
            "waiting",
            "active_matches",
            "mentors",
            "no_active_match",
            "no_mentors",
        ],
        rows,
        [
            PROFILES_DEFINITION,
            (
                "waiting：眼下没有已批准、进行中或已完成结对的新农人（从未结对，或结对已被取消、谢绝）。",
                "waiting: newcomers with no approved, active or completed match now (never paired, or their "
                "match was cancelled or declined).",
            ),
            (
                "no_active_match：有人在等、却没有一个进行中的结对；no_mentors：县内没有在用的导师档案。",
                (
                    "no_active_match: someone waits and the county has no active match; no_mentors: the "
                    "county has no active mentor profile."
                ),
            ),
            (
                "只列出至少有一名新农人、且至少有一种缺口的县。",
                "Only counties with at least one newcomer and at least one gap are listed.",
            ),
        ],
    )


def equity(session: Session, params: ReportParams) -> Report:
    """Match and outcome rates by county e-commerce penetration quintile (1 = least penetrated)."""
    # Used three times: one CTE, computed once.
    quint = penetration_quintiles().cte("quintiles")
    bands = (
        select(
            quint.c.q, func.min(quint.c.penetration).label("lo"), func.max(quint.c.penetration).label("hi")
        )
        .group_by(quint.c.q)
        .subquery()
    )
    # A county lies in one quintile, so its newcomers are counted per county, then per quintile.
    profiles = count_distinct(
        select(quint.c.q, Newcomer.county_code.label("county"))
        .select_from(Newcomer)
        .join(quint, quint.c.code == Newcomer.county_code)
        .where(_existing_by_end(params))
        .subquery(),
        ["q"],
        "county",
        "counties",
        newcomers=func.count(),
    )
    # Per (county, newcomer) before the quintiles join in: the join cannot then be planned between the
    # matches and their outcomes (where a poor estimate of the quintile rows made it a nested loop).
    base = activated(
        params,
        county=MatchOutcome.newcomer_county_code,
        newcomer_id=MatchOutcome.newcomer_id,
        days=MatchOutcome.days_to_first_sale,
    ).subquery()
    per_county_newcomer = (
        select(
            base.c.county,
            base.c.newcomer_id,
            func.count().label("n"),
            func.sum(first_sale_in_window(base.c.days)).label("first_sale"),
        )
        .group_by(base.c.county, base.c.newcomer_id)
        .subquery()
    )
    in_quintiles = (
        select(quint.c.q, per_county_newcomer)
        .join(quint, quint.c.code == per_county_newcomer.c.county)
        .subquery()
    )
    matched = count_distinct(
        in_quintiles,
        ["q"],
        "newcomer_id",
        "matched",
        matches=total(in_quintiles.c.n),
        first_sale=total(in_quintiles.c.first_sale),
    )
    newcomers_n = func.coalesce(profiles.c.newcomers, 0)
    matched_n, matches_n = func.coalesce(matched.c.matched, 0), func.coalesce(matched.c.matches, 0)
    first_n = func.coalesce(matched.c.first_sale, 0)
    stmt = (
        select(
            bands.c.q,
            bands.c.lo,
            bands.c.hi,
            func.coalesce(profiles.c.counties, 0),
            newcomers_n,
            matched_n,
            ratio(matched_n, newcomers_n),
            matches_n,
            first_n,
            ratio(first_n, matches_n),
        )
        .outerjoin(profiles, profiles.c.q == bands.c.q)
        .outerjoin(matched, matched.c.q == bands.c.q)
        .order_by(bands.c.q)
    )
    return Report(
        "equity",
        TITLES["equity"],
        params,
        [
            "quintile",
            "penetration_min",
            "penetration_max",
            "counties",
            "newcomers",
            "newcomers_matched",
            "match_rate",
            "matches",
            "first_sale_90d",
            "share_first_sale_90d",
        ],
        # Penetration is stored as a float read from the reference table (0.02 comes back 0.0199999995...).
        [(q, _share(lo), _share(hi), *rest) for q, lo, hi, *rest in session.execute(stmt)],
        [
            RANGE_DEFINITION,
            PROFILES_DEFINITION,
            (
                "五分位按全国各县电商渗透率从低到高等分，1 为渗透率最低（最缺服务）的县。",
                (
                    "Quintiles split all counties nationwide by e-commerce penetration, low to high: 1 is "
                    "the least penetrated (most under-served)."
                ),
            ),
            (
                (
                    "match_rate = 范围内有生效结对的新农人 / 新农人；"
                    "share_first_sale_90d = 90 天内首单的结对 / 结对。"
                ),
                (
                    "match_rate = newcomers with a match activated in the range / newcomers; "
                    "share_first_sale_90d = matches with a first sale within 90 days / matches."
                ),
            ),
        ],
    )


def homogenisation(session: Session, params: ReportParams) -> Report:
    """Counties where many newcomers sell one product (the low-price-war risk)."""
    mains = (
        select(
            Newcomer.county_code.label("county"),
            NewcomerProduct.category_code.label("category"),
            func.count().label("n"),
        )
        .join(
            NewcomerProduct, and_(NewcomerProduct.newcomer_id == Newcomer.id, NewcomerProduct.position == 0)
        )
        .where(_existing_by_end(params))
        .group_by(Newcomer.county_code, NewcomerProduct.category_code)
        .subquery()
    )
    ranked = select(
        mains,
        func.row_number()
        .over(partition_by=mains.c.county, order_by=(mains.c.n.desc(), mains.c.category))
        .label("rn"),
        cast(func.sum(mains.c.n).over(partition_by=mains.c.county), Integer).label("total"),
    ).subquery()
    share = ratio(ranked.c.n, ranked.c.total)
    stmt = (
        select(
            ranked.c.county,
            Region.name,
            ranked.c.total,
            ranked.c.category,
            Category.name_zh,
            ranked.c.n,
            share,
        )
        .outerjoin(Region, Region.code == ranked.c.county)
        .outerjoin(Category, Category.code == ranked.c.category)
        .where(
            ranked.c.rn == 1,
            ranked.c.total >= HOMOGENISATION_MIN_NEWCOMERS,
            share >= HOMOGENISATION_MIN_SHARE,
        )
        .order_by(share.desc(), ranked.c.total.desc(), ranked.c.county)
    )
    return Report(
        "homogenisation",
        TITLES["homogenisation"],
        params,
        ["county_code", "name", "newcomers", "top_category", "top_category_name", "top_count", "top_share"],
        [tuple(r) for r in session.execute(stmt)],
        [
            PROFILES_DEFINITION,
            (
                "按新农人的主营品类（第一个品类）统计；top_share = 最多人做的品类人数 / 县内新农人数。",
                (
                    "By each newcomer's main (first) product; top_share = newcomers of the most common "
                    "product / newcomers of the county."
                ),
            ),
            (
                (
                    f"列出至少 {HOMOGENISATION_MIN_NEWCOMERS} 名新农人、"
                    f"且 top_share ≥ {HOMOGENISATION_MIN_SHARE:.0%} 的县。"
                ),
                (
                    f"Lists counties with at least {HOMOGENISATION_MIN_NEWCOMERS} newcomers and top_share "
                    f"≥ {HOMOGENISATION_MIN_SHARE:.0%}."
                ),
            ),
        ],
    )
