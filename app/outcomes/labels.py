"""Outcome labels for the ranker: did a pairing work, judged by the newcomer's business and the pair itself.

A pairing is a success when any of these holds: a first online sale within 90 days of activation; sustained
commitment fulfilment (≥ 80 % over at least 3 periods); the newcomer rated it 4 or 5. It is a failure once
it can no longer become one by the first two: it has ended (completed or cancelled) or is more than 90 days
old, with none of them. Younger pairs without a success yet are left out (not yet known).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import ColumnElement, Float, and_, case, cast, func, or_, select
from sqlalchemy.orm import Session

from app.db import china_today
from app.models import Commitment, Match, MatchOutcome, MatchRating

FIRST_SALE_DAYS = 90
SUSTAINED_FULFILMENT = 0.8
MIN_PERIODS = 3
GOOD_RATING = 4


@dataclass(frozen=True, slots=True)
class OutcomeLabel:
    """One labelled pair (plain ids, so the model side needs no ORM)."""

    match_id: int
    newcomer_id: int
    mentor_id: int
    success: bool
    first_sale_90d: bool
    sustained_fulfilment: bool
    good_rating: bool


def _flag(expr: ColumnElement[bool]) -> ColumnElement[bool]:
    return case((expr, True), else_=False)


def outcome_labels(session: Session, *, as_of: date | None = None) -> list[OutcomeLabel]:
    """Every pair whose outcome is known as of a day, labelled success or failure (computed in SQL)."""
    as_of = as_of or china_today()
    periods = (
        select(
            Commitment.match_id.label("match_id"),
            func.sum(Commitment.done_count).label("done"),
            func.sum(Commitment.partial_count).label("partial"),
            func.sum(Commitment.done_count + Commitment.partial_count + Commitment.missed_count).label(
                "total"
            ),
        )
        .group_by(Commitment.match_id)
        .subquery()
    )
    rating = (
        select(MatchRating.match_id.label("match_id"), func.max(MatchRating.score).label("score"))
        .where(MatchRating.party == "newcomer")
        .group_by(MatchRating.match_id)
        .subquery()
    )
    sale = func.coalesce(MatchOutcome.days_to_first_sale <= FIRST_SALE_DAYS, False)
    kept = and_(
        periods.c.total >= MIN_PERIODS,
        cast(periods.c.done + 0.5 * periods.c.partial, Float) / func.nullif(periods.c.total, 0)
        >= SUSTAINED_FULFILMENT,
    )
    liked = rating.c.score >= GOOD_RATING
    success = or_(sale, func.coalesce(kept, False), func.coalesce(liked, False))
    known = or_(
        success,
        Match.status.in_(("completed", "cancelled")),
        MatchOutcome.activated_on < as_of - timedelta(days=FIRST_SALE_DAYS),
    )
    stmt = (
        select(
            Match.id,
            Match.newcomer_id,
            Match.mentor_id,
            _flag(success),
            _flag(sale),
            _flag(func.coalesce(kept, False)),
            _flag(func.coalesce(liked, False)),
        )
        .select_from(Match)
        .join(MatchOutcome, MatchOutcome.match_id == Match.id)
        .outerjoin(periods, periods.c.match_id == Match.id)
        .outerjoin(rating, rating.c.match_id == Match.id)
        .where(known, MatchOutcome.activated_on <= as_of)
        .order_by(Match.id)
    )
    return [
        OutcomeLabel(int(r[0]), int(r[1]), int(r[2]), bool(r[3]), bool(r[4]), bool(r[5]), bool(r[6]))
        for r in session.execute(stmt)
    ]
