"""The coordinator's numbers at a glance: pending proposals, runs, overdue commitments, matches waiting."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.access import Caller
from app.access.matches import review_scope
from app.db import china_today
from app.models import Commitment, Match, MatchingRun


def home_counts(session: Session, caller: Caller) -> dict[str, int]:
    """The four numbers of the coordinator's home page, each one aggregate query."""
    mine = review_scope(caller)
    by_status = dict(
        session.execute(
            select(Match.status, func.count())
            .where(mine, Match.status.in_(("proposed", "approved")))
            .group_by(Match.status)
        ).all()
    )
    runs = dict(
        session.execute(
            select(MatchingRun.status, func.count())
            .where(caller.scope(MatchingRun.scope_code))
            .group_by(MatchingRun.status)
        ).all()
    )
    overdue = session.scalar(
        select(func.count())
        .select_from(Commitment)
        .join(Match, Match.id == Commitment.match_id)
        .where(mine, Match.status == "active", Commitment.next_due < china_today())
    )
    return {
        "pending": int(by_status.get("proposed", 0)),
        "awaiting": int(by_status.get("approved", 0)),
        "runs_active": int(runs.get("queued", 0) + runs.get("running", 0)),
        "runs_done": int(runs.get("done", 0)),
        "overdue": int(overdue or 0),
    }
