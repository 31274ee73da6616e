"""Who may see or act on a match: coordinators by the newcomer's county, parties by their accounts."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from app.access.caller import Caller
from app.access.profiles import MENTORS, NEWCOMERS, mask_phone, sees_full_phone
from app.access.roles import Role
from app.errors import Conflict, Forbidden, NotFound
from app.models import Match, Mentor, Newcomer
from app.models.matches import VISIBLE_TO_PARTIES, MatchStatus


@dataclass(frozen=True, slots=True)
class MatchView:
    """A match with its two profiles and the caller's relation to it."""

    caller: Caller
    match: Match
    mentor: Mentor
    newcomer: Newcomer
    is_mentor: bool
    is_newcomer: bool
    is_reviewer: bool

    @property
    def is_party(self) -> bool:
        """The caller is the mentor or the newcomer of this match."""
        return self.is_mentor or self.is_newcomer

    def phone_of(self, profile: Mentor | Newcomer) -> str | None:
        """A party's phone: in full for those the profile rule allows, and for the other party once active."""
        kind = MENTORS if profile is self.mentor else NEWCOMERS
        counterpart = self.is_newcomer if profile is self.mentor else self.is_mentor
        if sees_full_phone(kind, self.caller, profile) or (
            counterpart and self.match.status == MatchStatus.ACTIVE
        ):
            return profile.phone
        return mask_phone(profile.phone)


def reviews(caller: Caller, newcomer_county_code: str) -> bool:
    """Admins, and coordinators whose jurisdiction covers the newcomer, review a pair."""
    return caller.is_admin or (caller.role is Role.COORDINATOR and caller.covers(newcomer_county_code))


def review_scope(caller: Caller) -> ColumnElement[bool]:
    """SQL form of `reviews`: the matches in the caller's review queue."""
    return caller.scope(Match.newcomer_county_code)


def party_scope(caller: Caller) -> ColumnElement[bool]:
    """SQL: the matches the caller is a party to and may already see (approved or later)."""
    mine = or_(
        Match.mentor_id.in_(select(Mentor.id).where(Mentor.account_id == caller.id)),
        Match.newcomer_id.in_(select(Newcomer.id).where(Newcomer.account_id == caller.id)),
    )
    return mine & Match.status.in_(VISIBLE_TO_PARTIES)


def view_of(caller: Caller, match: Match, mentor: Mentor, newcomer: Newcomer) -> MatchView | None:
    """The caller's relation to a loaded match, or None if they may not see it."""
    view = MatchView(
        caller,
        match,
        mentor,
        newcomer,
        is_mentor=mentor.account_id is not None and mentor.account_id == caller.id,
        is_newcomer=newcomer.account_id is not None and newcomer.account_id == caller.id,
        is_reviewer=reviews(caller, match.newcomer_county_code),
    )
    if view.is_reviewer or (view.is_party and match.status in VISIBLE_TO_PARTIES):
        return view
    return None


def views_of(session: Session, caller: Caller, matches: list[Match]) -> list[MatchView]:
    """The caller's views of a page of matches (the profiles in two queries); unseen ones are left out."""
    mentors = {
        m.id: m for m in session.scalars(select(Mentor).where(Mentor.id.in_({x.mentor_id for x in matches})))
    }
    newcomers = {
        n.id: n
        for n in session.scalars(select(Newcomer).where(Newcomer.id.in_({x.newcomer_id for x in matches})))
    }
    views = (view_of(caller, m, mentors[m.mentor_id], newcomers[m.newcomer_id]) for m in matches)
    return [v for v in views if v is not None]


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
    view = view_of(caller, match, mentor, newcomer)
    if view is None:
        raise NotFound()
    return view


def load_reviewable(session: Session, caller: Caller, match_id: int) -> MatchView:
    """A match the caller reviews (coordinator of the newcomer's region, or admin), else 404."""
    view = load_view(session, caller, match_id)
    if not view.is_reviewer:
        raise NotFound()
    return view


def speaks_for(view: MatchView, on_behalf_of: str | None) -> str:
    """The party ("mentor" or "newcomer") the caller acts for; staff only for a party without an account."""
    if on_behalf_of is None:
        if view.is_mentor:
            return "mentor"
        if view.is_newcomer:
            return "newcomer"
        raise Forbidden(detail=("只有结对双方可以操作", "only the two parties may do this"))
    # A coordinator outside the match's jurisdiction never gets here: load_view answers 404 first.
    if not view.is_reviewer:
        raise Forbidden(
            code="not_match_staff",
            detail=("只有负责该结对的工作人员可以代办", "only staff covering the match act for a party"),
        )
    profile = view.mentor if on_behalf_of == "mentor" else view.newcomer
    if profile.account_id is not None:
        raise Conflict(
            code="party_has_account",
            detail=("该方有自己的账户，请由本人操作", "this party has an account and acts themself"),
        )
    return on_behalf_of
