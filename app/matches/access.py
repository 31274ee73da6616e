"""Who may see or act on a match: coordinators by the newcomer's county, parties by their accounts."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.deps import Caller
from app.errors import NotFound
from app.models import Match, Mentor, Newcomer

# Parties learn of a pair only once a coordinator has approved it.
VISIBLE_TO_PARTIES = ("approved", "active", "declined", "completed", "cancelled")


@dataclass(frozen=True, slots=True)
class MatchView:
    """A match with its two profiles and the caller's relation to it."""

    match: Match
    mentor: Mentor
    newcomer: Newcomer
    is_mentor: bool
    is_newcomer: bool
    is_reviewer: bool


def load_view(session: Session, caller: Caller, match_id: int, *, lock: bool = False) -> MatchView:
    """The match if the caller may see it, else 404 (never 403: its existence is not disclosed)."""
    stmt = select(Match).where(Match.id == match_id)
    if lock:
        stmt = stmt.with_for_update()
    match = session.scalar(stmt)
    if match is None:
        raise NotFound()
    mentor = session.get(Mentor, match.mentor_id)
    newcomer = session.get(Newcomer, match.newcomer_id)
    assert mentor is not None and newcomer is not None
    view = MatchView(
        match,
        mentor,
        newcomer,
        is_mentor=mentor.account_id is not None and mentor.account_id == caller.id,
        is_newcomer=newcomer.account_id is not None and newcomer.account_id == caller.id,
        is_reviewer=caller.role == "admin"
        or (caller.role == "coordinator" and caller.covers(match.newcomer_county_code)),
    )
    party = view.is_mentor or view.is_newcomer
    if view.is_reviewer or (party and match.status in VISIBLE_TO_PARTIES):
        return view
    raise NotFound()
