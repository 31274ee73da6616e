"""Matches after approval: the parties' list, accepting or declining, ending, the audit log."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.access import Caller
from app.access.matches import MatchView, load_reviewable, load_view, party_scope, speaks_for, view_of
from app.db import china_today
from app.errors import Conflict, Forbidden
from app.matches import reasons
from app.matches.parties import is_pairable
from app.matches.states import cancel_approved, inactive, transition, withdraw_pending
from app.models import Commitment, Match, MatchTransition, Mentor, Newcomer
from app.models.matches import MatchStatus
from app.notifications.service import notify
from app.pagination import Paged, desc, paginate


def my_matches(session: Session, caller: Caller, *, cursor: str | None, limit: int) -> Paged[MatchView]:
    """The caller's approved, active and past matches, newest first: one query with both profiles."""
    stmt = (
        select(Match, Mentor, Newcomer)
        .join(Mentor, Mentor.id == Match.mentor_id)
        .join(Newcomer, Newcomer.id == Match.newcomer_id)
        .where(party_scope(caller))
    )
    page = paginate(session, stmt, [desc(Match.id)], cursor, limit)
    # party_scope already limits rows to what the caller may see, so every row has a view.
    return page.map(lambda row: _seen(view_of(caller, *row)))


def _seen(view: MatchView | None) -> MatchView:
    assert view is not None
    return view


def transitions_of(session: Session, caller: Caller, match_id: int) -> list[MatchTransition]:
    """The audit log of a match the caller reviews, oldest first."""
    load_reviewable(session, caller, match_id)
    return list(
        session.scalars(
            select(MatchTransition).where(MatchTransition.match_id == match_id).order_by(MatchTransition.id)
        )
    )


def accept(session: Session, caller: Caller, match_id: int, *, on_behalf_of: str | None = None) -> MatchView:
    """Record one party's acceptance; when both have accepted the match becomes active."""
    view = load_view(session, caller, match_id, lock=True)
    party = speaks_for(view, on_behalf_of)
    match = view.match
    accepted = match.mentor_accepted if party == "mentor" else match.newcomer_accepted
    if accepted and match.status in (MatchStatus.APPROVED, MatchStatus.ACTIVE):
        # A retry of an acceptance that counted (the app lost the answer) gets the match as it is now.
        return view
    if match.status != MatchStatus.APPROVED:
        raise Conflict(
            code="invalid_transition",
            detail=(f"当前状态 {match.status} 不能接受", f"cannot accept a {match.status} match"),
        )
    for side, model, profile in (("newcomer", Newcomer, view.newcomer), ("mentor", Mentor, view.mentor)):
        if not is_pairable(session, model, profile.id):
            raise inactive(side)
    if party == "mentor":
        match.mentor_accepted = True
    else:
        match.newcomer_accepted = True
    session.flush()
    if match.mentor_accepted and match.newcomer_accepted:
        transition(session, match, MatchStatus.ACTIVE, actor_id=caller.id, reason=reasons.ACCEPTED)
        _start_commitments(session, view)
        for account in (view.mentor.account_id, view.newcomer.account_id):
            notify(session, account, "match_active", {"match_id": match.id})
    return view


def _start_commitments(session: Session, view: MatchView) -> None:
    today = china_today()
    for c in view.match.suggested_commitments:
        session.add(
            Commitment(
                match_id=view.match.id,
                resource_type=c["resource_type"],
                area=c["area"],
                description=c["description"],
                cadence_days=int(c["cadence_days"]),
                next_due=today + timedelta(days=int(c["cadence_days"])),
            )
        )
    session.flush()


def decline(
    session: Session, caller: Caller, match_id: int, *, note: str | None, on_behalf_of: str | None = None
) -> MatchView:
    """A party says no: the seat is released and the pair is never proposed again."""
    view = load_view(session, caller, match_id, lock=True)
    party = speaks_for(view, on_behalf_of)
    transition(
        session, view.match, MatchStatus.DECLINED, actor_id=caller.id, reason=reasons.decided(party, note)
    )
    other = view.newcomer.account_id if party == "mentor" else view.mentor.account_id
    notify(session, other, "match_declined", {"match_id": view.match.id})
    return view


def end(session: Session, caller: Caller, match_id: int, *, to_status: MatchStatus, reason: str) -> MatchView:
    """Complete (coordinator) or cancel (a party or the coordinator) an active match."""
    view = load_view(session, caller, match_id, lock=True)
    if to_status == MatchStatus.COMPLETED and not view.is_reviewer:
        raise Forbidden(detail=("由协调员确认结对完成", "a coordinator confirms completion"))
    if view.match.status != MatchStatus.ACTIVE:
        # The lifecycle also cancels an approved match, but only for a deactivated party: one that has
        # not begun is declined by a party, not cancelled.
        raise Conflict(
            code="invalid_transition",
            detail=(f"当前状态 {view.match.status} 不能结束", f"cannot end a {view.match.status} match"),
        )
    transition(session, view.match, to_status, actor_id=caller.id, reason=reason)
    for account in (view.mentor.account_id, view.newcomer.account_id):
        notify(session, account, "match_ended", {"match_id": view.match.id, "status": to_status})
    return view


def end_pairings_of_account(session: Session, account_id: int, *, actor_id: int | None) -> None:
    """A seller's account was deactivated: their profile is no longer pairable (app.matches.parties), so
    its pending proposals are withdrawn and its approved matches that have not begun are cancelled, as
    for a profile deactivation. Active matches go on: a coordinator ends those."""
    for model in (Mentor, Newcomer):
        for profile in session.scalars(select(model).where(model.account_id == account_id)):
            withdraw_pending(session, profile, actor_id=actor_id, reason=reasons.PARTY_DEACTIVATED)
            cancel_for_deactivated(session, profile, actor_id=actor_id)


def cancel_for_deactivated(session: Session, profile: Mentor | Newcomer, *, actor_id: int | None) -> int:
    """Cancel a deactivated party's approved matches and tell both sides; how many were cancelled."""
    ended = cancel_approved(session, profile, actor_id=actor_id)
    for match in ended:
        mentor, newcomer = session.get(Mentor, match.mentor_id), session.get(Newcomer, match.newcomer_id)
        for account in (mentor.account_id if mentor else None, newcomer.account_id if newcomer else None):
            notify(session, account, "match_ended", {"match_id": match.id, "status": MatchStatus.CANCELLED})
    return len(ended)
