"""The coordinator's numbers at a glance: pending proposals, runs, overdue commitments, matches waiting."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, select, true
from sqlalchemy.orm import Session

from app.db import utcnow
from app.deps import Caller
from app.models import Commitment, Match, MatchingRun


def in_jurisdiction(caller: Caller, column: Any) -> ColumnElement[bool]:
    """A region-code column inside the caller's jurisdiction (admins: everything)."""
    if caller.role == "admin":
        return true()
    return column.startswith(caller.jurisdiction or "\x00", autoescape=True)


def home_counts(session: Session, caller: Caller) -> dict[str, int]:
    """The four numbers of the coordinator's home page, each one aggregate query."""
    mine = in_jurisdiction(caller, Match.newcomer_county_code)
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
            .where(in_jurisdiction(caller, MatchingRun.scope_code))
            .group_by(MatchingRun.status)
        ).all()
    )
    overdue = session.scalar(
        select(func.count())
        .select_from(Commitment)
        .join(Match, Match.id == Commitment.match_id)
        .where(mine, Match.status == "active", Commitment.next_due < utcnow().date())
    )
    return {
        "pending": int(by_status.get("proposed", 0)),
        "awaiting": int(by_status.get("approved", 0)),
        "runs_active": int(runs.get("queued", 0) + runs.get("running", 0)),
        "runs_done": int(runs.get("done", 0)),
        "overdue": int(overdue or 0),
    }
