"""The match lifecycle as one table of allowed transitions and the functions that apply it.

proposed → approved | rejected | superseded
approved → active (both parties accepted) | declined | cancelled (a party was deactivated first)
active   → completed | cancelled
A match holds a mentor seat (and the newcomer's only slot) while approved or active; the seat is taken
and released here and nowhere else, with conditional UPDATEs the database serialises. Every change of
status, one at a time (`transition`) or many at once (`transition_many`), is checked against TRANSITIONS
and written to the audit log here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.orm.util import identity_key

from app.db import utcnow
from app.errors import Conflict, PreconditionFailed
from app.matches import reasons
from app.matches.parties import pairable
from app.models import Match, MatchTransition, Mentor, Newcomer
from app.models.matches import SEAT_HOLDING, MatchStatus
from app.outcomes.service import record_baseline, record_end

S = MatchStatus
TRANSITIONS: dict[MatchStatus, frozenset[MatchStatus]] = {
    S.PROPOSED: frozenset({S.APPROVED, S.REJECTED, S.SUPERSEDED}),
    S.APPROVED: frozenset({S.ACTIVE, S.DECLINED, S.CANCELLED}),
    S.ACTIVE: frozenset({S.COMPLETED, S.CANCELLED}),
    S.REJECTED: frozenset(),
    S.SUPERSEDED: frozenset(),
    S.DECLINED: frozenset(),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
}
TERMINAL = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
# Bulk changes run as one UPDATE per chunk, which suits only moves that neither take nor release a seat.
_CHUNK = 1_000


def check_allowed(from_status: str, to_status: str) -> None:
    """409 invalid_transition unless the lifecycle allows this move."""
    if to_status not in TRANSITIONS[MatchStatus(from_status)]:
        raise Conflict(
            code="invalid_transition",
            detail=(f"不能从 {from_status} 变为 {to_status}", f"cannot go from {from_status} to {to_status}"),
        )


def _take_seat(session: Session, match: Match) -> None:
    """Take the mentor's seat for an approval, if both parties are still as the proposal saw them.

    A proposal was made for two active profiles in two counties the run kept apart; a deactivation or a
    move since then makes it one the model would not have made (409, and the coordinator runs again).
    """
    newcomer = session.execute(
        select(pairable(Newcomer).label("pairable"), Newcomer.county_code).where(
            Newcomer.id == match.newcomer_id
        )
    ).one()
    if not newcomer.pairable:
        raise inactive("newcomer")
    if newcomer.county_code != match.newcomer_county_code:
        raise _moved("新农人", "newcomer")
    # One statement: the row lock makes concurrent approvals queue, and each re-checks the bound.
    taken = session.execute(
        update(Mentor)
        .where(
            Mentor.id == match.mentor_id,
            Mentor.capacity_used < Mentor.capacity,
            pairable(Mentor),
            Mentor.county_code == match.mentor_county_code,
        )
        .values(capacity_used=Mentor.capacity_used + 1, version=Mentor.version + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken == 1:
        return
    mentor = session.execute(
        select(pairable(Mentor).label("pairable"), Mentor.county_code).where(Mentor.id == match.mentor_id)
    ).one()
    if not mentor.pairable:
        raise inactive("mentor")
    if mentor.county_code != match.mentor_county_code:
        raise _moved("导师", "mentor")
    raise Conflict(
        code="mentor_capacity_full", detail=("该导师的带徒名额已满", "this mentor has no seat left")
    )


def inactive(party: str) -> Conflict:
    """409 for a pairing step with a party who was deactivated, profile or account (no pairing begins
    with one)."""
    zh = "新农人" if party == "newcomer" else "导师"
    detail = (f"该{zh}已停用，不能再结对", f"this {party} was deactivated")
    return Conflict(code=f"{party}_inactive", detail=detail)


def _moved(zh: str, en: str) -> Conflict:
    return Conflict(
        code="party_moved",
        detail=(
            f"提议生成后{zh}迁到了别的县，请重新运行匹配",
            f"the {en} moved to another county after this proposal was made; run matching again",
        ),
    )


def _release_seat(session: Session, mentor_id: int) -> None:
    session.execute(
        update(Mentor)
        .where(Mentor.id == mentor_id, Mentor.capacity_used > 0)
        .values(capacity_used=Mentor.capacity_used - 1, version=Mentor.version + 1)
        .execution_options(synchronize_session=False)
    )


def _audit_rows(
    match_ids: Sequence[int],
    from_status: str,
    to_status: str,
    actor_id: int | None,
    reason: str | None,
    at: datetime,
) -> list[dict[str, object]]:
    return [
        {
            "match_id": mid,
            "from_status": from_status,
            "to_status": to_status,
            "actor_id": actor_id,
            "reason": reason,
            "at": at,
        }
        for mid in match_ids
    ]


def transition(
    session: Session, match: Match, to_status: MatchStatus, *, actor_id: int | None, reason: str | None = None
) -> MatchTransition:
    """Move a match to a new state (409 if the lifecycle forbids it), keeping seats and the audit log."""
    from_status = match.status
    check_allowed(from_status, to_status)
    holds_before, holds_after = from_status in SEAT_HOLDING, to_status in SEAT_HOLDING
    try:
        # A savepoint, so a refused seat leaves the caller's transaction usable (PostgreSQL aborts otherwise).
        with session.begin_nested():
            if holds_after and not holds_before:
                _take_seat(session, match)
            elif holds_before and not holds_after:
                _release_seat(session, match.mentor_id)
            match.status = to_status
            match.updated_at = utcnow()
            session.flush()
    except IntegrityError as exc:
        # The partial unique index: this newcomer already holds an approved or active match.
        raise Conflict(
            code="newcomer_already_matched",
            detail=("该新农人已有在带的导师", "this newcomer already has a mentor"),
        ) from exc
    except StaleDataError as exc:
        raise PreconditionFailed(
            detail=("该提议刚被他人处理", "someone else just changed this proposal")
        ) from exc
    if holds_before or holds_after:
        # The seat UPDATE bypassed the ORM: refresh only the mentor, if it is loaded.
        mentor = session.identity_map.get(identity_key(Mentor, match.mentor_id))
        if mentor is not None:
            session.expire(mentor, ["capacity_used", "version"])
    (row,) = _audit_rows([match.id], from_status, to_status, actor_id, reason, utcnow())
    entry = MatchTransition(**row)
    session.add(entry)
    session.flush()
    if to_status == MatchStatus.ACTIVE:
        record_baseline(session, match=match)
    elif from_status == MatchStatus.ACTIVE:
        record_end(session, match=match)
    return entry


def transition_many(
    session: Session,
    match_ids: Sequence[int],
    *,
    from_status: MatchStatus,
    to_status: MatchStatus,
    actor_id: int | None,
    reason: str,
) -> int:
    """Move many matches that are still in `from_status` at once, with one audit entry each.

    For moves that neither take nor release a seat (the bulk supersede of proposals); rows that left
    `from_status` meanwhile are skipped, so the count says how many moved.
    """
    check_allowed(from_status, to_status)
    if (from_status in SEAT_HOLDING) != (to_status in SEAT_HOLDING):
        raise ValueError(f"{from_status} → {to_status} moves seats: use transition() one match at a time")
    now, moved = utcnow(), 0
    for i in range(0, len(match_ids), _CHUNK):
        chunk = list(match_ids[i : i + _CHUNK])
        changed = list(
            session.scalars(
                update(Match)
                .where(Match.id.in_(chunk), Match.status == from_status)
                .values(status=to_status, version=Match.version + 1, updated_at=now)
                .returning(Match.id)
                .execution_options(synchronize_session=False)
            )
        )
        if changed:
            session.execute(
                insert(MatchTransition), _audit_rows(changed, from_status, to_status, actor_id, reason, now)
            )
        moved += len(changed)
    return moved


def supersede_pending(session: Session, *where: Any, actor_id: int | None, reason: str) -> int:
    """Proposals still awaiting review that match `where` become superseded (audited); how many did."""
    if not where:
        raise ValueError("supersede_pending needs a condition: without one it ends every pending proposal")
    ids = list(session.scalars(select(Match.id).where(Match.status == MatchStatus.PROPOSED, *where)))
    return transition_many(
        session,
        ids,
        from_status=MatchStatus.PROPOSED,
        to_status=MatchStatus.SUPERSEDED,
        actor_id=actor_id,
        reason=reason,
    )


def withdraw_pending(
    session: Session, profile: Mentor | Newcomer, *, actor_id: int | None, reason: str
) -> int:
    """A party's proposals still awaiting review are withdrawn (superseded): after a move to another
    county or a deactivation, approval could only refuse them (party_moved, *_inactive), and they would
    sit in the old county's queue until the next run."""
    side = Match.mentor_id if isinstance(profile, Mentor) else Match.newcomer_id
    return supersede_pending(session, side == profile.id, actor_id=actor_id, reason=reason)


def cancel_approved(session: Session, profile: Mentor | Newcomer, *, actor_id: int | None) -> list[Match]:
    """A deactivated party's approved matches, which have not begun, are cancelled and their seats
    released: the pair could never become active (acceptance refuses an inactive party), and the seat
    would stay held. An active match goes on until a coordinator completes or cancels it."""
    side = Match.mentor_id if isinstance(profile, Mentor) else Match.newcomer_id
    # The row locks wait for an acceptance in flight; a match it made active no longer qualifies.
    ended = list(
        session.scalars(
            select(Match)
            .where(side == profile.id, Match.status == MatchStatus.APPROVED)
            .order_by(Match.id)
            .with_for_update()
        )
    )
    for match in ended:
        transition(session, match, MatchStatus.CANCELLED, actor_id=actor_id, reason=reasons.PARTY_DEACTIVATED)
    return ended


def withdraw_moved(session: Session, mentor_ids: Sequence[int]) -> int:
    """After a bulk write (an admin's roster import matched sellers by credit code anywhere), the pending
    proposals of these mentors made for a county they have left are withdrawn, as a profile edit's are;
    a move within the county keeps them."""
    now_in = select(Mentor.county_code).where(Mentor.id == Match.mentor_id).scalar_subquery()
    return supersede_pending(
        session,
        Match.mentor_id.in_(mentor_ids),
        Match.mentor_county_code != now_in,
        actor_id=None,
        reason=reasons.PARTY_MOVED_BY_IMPORT,
    )
