"""The match lifecycle as one table of allowed transitions and one function that applies them.

proposed → approved | rejected | superseded
approved → active (both parties accepted) | declined
active   → completed | cancelled
A match holds a mentor seat (and the newcomer's only slot) while approved or active; the seat is taken
and released here and nowhere else, with conditional UPDATEs the database serialises.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.orm.util import identity_key

from app.db import utcnow
from app.errors import Conflict, PreconditionFailed
from app.models import Match, MatchTransition, Mentor
from app.models.matches import SEAT_HOLDING
from app.outcomes.service import record_baseline

TRANSITIONS: dict[str, frozenset[str]] = {
    "proposed": frozenset({"approved", "rejected", "superseded"}),
    "approved": frozenset({"active", "declined"}),
    "active": frozenset({"completed", "cancelled"}),
    "rejected": frozenset(),
    "superseded": frozenset(),
    "declined": frozenset(),
    "completed": frozenset(),
    "cancelled": frozenset(),
}
TERMINAL = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)


def _take_seat(session: Session, mentor_id: int) -> None:
    # One statement: the row lock makes concurrent approvals queue, and each re-checks the bound.
    taken = session.execute(
        update(Mentor)
        .where(Mentor.id == mentor_id, Mentor.capacity_used < Mentor.capacity, Mentor.is_active.is_(True))
        .values(capacity_used=Mentor.capacity_used + 1, version=Mentor.version + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken != 1:
        raise Conflict(
            code="mentor_capacity_full", detail=("该导师的带徒名额已满", "this mentor has no seat left")
        )


def _release_seat(session: Session, mentor_id: int) -> None:
    session.execute(
        update(Mentor)
        .where(Mentor.id == mentor_id, Mentor.capacity_used > 0)
        .values(capacity_used=Mentor.capacity_used - 1, version=Mentor.version + 1)
        .execution_options(synchronize_session=False)
    )


def transition(
    session: Session, match: Match, to_status: str, *, actor_id: int | None, reason: str | None = None
) -> MatchTransition:
    """Move a match to a new state (409 if the lifecycle forbids it), keeping seats and the audit log."""
    from_status = match.status
    if to_status not in TRANSITIONS[from_status]:
        raise Conflict(
            code="invalid_transition",
            detail=(f"不能从 {from_status} 变为 {to_status}", f"cannot go from {from_status} to {to_status}"),
        )
    holds_before, holds_after = from_status in SEAT_HOLDING, to_status in SEAT_HOLDING
    try:
        # A savepoint, so a refused seat leaves the caller's transaction usable (PostgreSQL aborts otherwise).
        with session.begin_nested():
            if holds_after and not holds_before:
                _take_seat(session, match.mentor_id)
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
    if to_status in SEAT_HOLDING or from_status in SEAT_HOLDING:
        # The seat UPDATE bypassed the ORM: refresh only the mentor, if it is loaded.
        mentor = session.identity_map.get(identity_key(Mentor, match.mentor_id))
        if mentor is not None:
            session.expire(mentor, ["capacity_used", "version"])
    entry = MatchTransition(
        match_id=match.id, from_status=from_status, to_status=to_status, actor_id=actor_id, reason=reason
    )
    session.add(entry)
    session.flush()
    if to_status == "active":
        record_baseline(session, match=match)
    return entry
