"""Ratings of ended matches: each party rates once; free text is for staff, never for the other party."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.access import Caller
from app.access.matches import load_view
from app.errors import Conflict, Forbidden
from app.models import MatchRating

RATEABLE_STATUSES = ("completed", "cancelled")


def rate_match(
    session: Session, *, caller: Caller, match_id: int, score: int, reason_code: str, comment: str
) -> MatchRating:
    """One party rates an ended match (409 if it has not ended or this party already rated it)."""
    view = load_view(session, caller, match_id)
    if view.is_mentor:
        party = "mentor"
    elif view.is_newcomer:
        party = "newcomer"
    else:
        raise Forbidden(detail=("只有结对双方可以评价", "only the two parties rate a match"))
    if view.match.status not in RATEABLE_STATUSES:
        raise Conflict(
            code="match_not_ended", detail=("结对结束后才能评价", "rate a match once it has ended")
        )
    rating = MatchRating(
        match_id=match_id,
        mentor_id=view.match.mentor_id,
        party=party,
        author_id=caller.id,
        score=score,
        reason_code=reason_code,
        comment=comment,
    )
    try:
        with session.begin_nested():
            session.add(rating)
            session.flush()
    except IntegrityError as exc:
        raise Conflict(
            code="already_rated", detail=("您已评价过该结对", "you have already rated this match")
        ) from exc
    return rating


def ratings_for(session: Session, *, caller: Caller, match_id: int) -> list[MatchRating]:
    """Reviewers see both ratings; a party sees only its own (so never the other's free text)."""
    view = load_view(session, caller, match_id)
    stmt = select(MatchRating).where(MatchRating.match_id == match_id).order_by(MatchRating.id)
    if not view.is_reviewer:
        stmt = stmt.where(MatchRating.author_id == caller.id)
    return list(session.scalars(stmt))
