"""Matches after approval: the parties' view, acceptance, ending, audit log, commitments, check-ins."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, status
from sqlalchemy import or_, select

from app.db import utcnow
from app.deps import Caller, MobileUser, SessionDep, require_role
from app.matches import commitments, lifecycle, review
from app.matches.access import VISIBLE_TO_PARTIES, load_view
from app.matches.schemas import (
    CancelRequest,
    CheckInCreate,
    CheckInRead,
    CommitmentRead,
    DeclineRequest,
    ProposalRead,
    TransitionRead,
)
from app.models import Match, Mentor, Newcomer
from app.openapi import problems
from app.pagination import CursorQuery, LimitQuery, decode_cursor, page_of
from app.schemas import IdPath, Input, Page

router = APIRouter(prefix="/api/v1", tags=["matches"])
MatchUser = Annotated[Caller, Depends(require_role("admin", "coordinator", "mentor", "newcomer"))]
ReviewerUser = Annotated[Caller, Depends(require_role("admin", "coordinator"))]


class AcceptRequest(Input):
    """Accept an approved match; staff may answer for a party that has no account."""

    on_behalf_of: Literal["mentor", "newcomer"] | None = None


def _body(view: lifecycle.MatchView) -> ProposalRead:
    # The two parties of an active match see each other's phone number; nobody else does.
    party = view.is_mentor or view.is_newcomer
    return ProposalRead.model_validate(
        review.match_body(view.match, view.mentor, view.newcomer, counterpart_phones=party)
    )


@router.get("/me/matches", response_model=Page[ProposalRead], responses=problems(401, 403, 422))
def my_matches(
    caller: MobileUser, session: SessionDep, limit: LimitQuery = 50, cursor: CursorQuery = None
) -> Page[ProposalRead]:
    """Your approved, active and past matches, newest first."""
    after = decode_cursor(cursor, (int,))
    mine = or_(
        Match.mentor_id.in_(select(Mentor.id).where(Mentor.account_id == caller.id)),
        Match.newcomer_id.in_(select(Newcomer.id).where(Newcomer.account_id == caller.id)),
    )
    stmt = (
        select(Match)
        .where(mine, Match.status.in_(VISIBLE_TO_PARTIES))
        .order_by(Match.id.desc())
        .limit(limit + 1)
    )
    if after:
        stmt = stmt.where(Match.id < after[0])
    rows = list(session.scalars(stmt))
    rows, next_cursor = page_of(rows, limit, lambda m: [m.id])
    items = [_body(load_view(session, caller, m.id)) for m in rows]
    return Page[ProposalRead](items=items, next_cursor=next_cursor)


@router.get("/matches/{match_id}", response_model=ProposalRead, responses=problems(401, 403, 404))
def get_match(match_id: IdPath, caller: MatchUser, session: SessionDep) -> ProposalRead:
    """One match you are a party to, or review."""
    return _body(load_view(session, caller, match_id))


@router.post(
    "/matches/{match_id}/accept", response_model=ProposalRead, responses=problems(401, 403, 404, 409, 422)
)
def accept(match_id: IdPath, body: AcceptRequest, caller: MatchUser, session: SessionDep) -> ProposalRead:
    """Accept an approved match; it becomes active once both parties have accepted."""
    return _body(lifecycle.accept(session, caller, match_id, on_behalf_of=body.on_behalf_of))


@router.post(
    "/matches/{match_id}/decline", response_model=ProposalRead, responses=problems(401, 403, 404, 409, 422)
)
def decline(match_id: IdPath, body: DeclineRequest, caller: MobileUser, session: SessionDep) -> ProposalRead:
    """Decline an approved match; the mentor's seat is released."""
    return _body(lifecycle.decline(session, caller, match_id, note=body.note))


@router.post(
    "/matches/{match_id}/complete", response_model=ProposalRead, responses=problems(401, 403, 404, 409)
)
def complete(match_id: IdPath, caller: ReviewerUser, session: SessionDep) -> ProposalRead:
    """Close an active match as completed (coordinator)."""
    return _body(lifecycle.end(session, caller, match_id, to_status="completed", reason="completed"))


@router.post(
    "/matches/{match_id}/cancel", response_model=ProposalRead, responses=problems(401, 403, 404, 409, 422)
)
def cancel(match_id: IdPath, body: CancelRequest, caller: MatchUser, session: SessionDep) -> ProposalRead:
    """End an active match early, with a reason."""
    reason = f"{body.reason_code}: {body.note or ''}".strip()
    return _body(lifecycle.end(session, caller, match_id, to_status="cancelled", reason=reason))


@router.get(
    "/matches/{match_id}/transitions", response_model=list[TransitionRead], responses=problems(401, 403, 404)
)
def transitions(match_id: IdPath, caller: ReviewerUser, session: SessionDep) -> list[TransitionRead]:
    """The audit log of a match: who moved it, when, from what to what, and why."""
    return [TransitionRead.model_validate(t) for t in lifecycle.audit_log(session, caller, match_id)]


@router.get(
    "/matches/{match_id}/commitments", response_model=list[CommitmentRead], responses=problems(401, 403, 404)
)
def list_commitments(match_id: IdPath, caller: MatchUser, session: SessionDep) -> list[CommitmentRead]:
    """Commitments of a match, with next due date and whether a check-in is overdue."""
    today = utcnow().date()
    return [
        CommitmentRead.model_validate({**_cols(c), "overdue": commitments.is_overdue(c, today)})
        for c in commitments.list_for_match(session, caller, match_id)
    ]


@router.post(
    "/commitments/{commitment_id}/check-ins",
    status_code=status.HTTP_201_CREATED,
    response_model=CheckInRead,
    responses=problems(401, 403, 404, 409, 422),
)
def check_in(
    commitment_id: IdPath, body: CheckInCreate, caller: MobileUser, session: SessionDep
) -> CheckInRead:
    """Report on a commitment: done, partial or missed; the mentor's fulfilment rate follows."""
    entry = commitments.check_in(
        session, caller, commitment_id, outcome=body.outcome, note=body.note, evidence_url=body.evidence_url
    )
    return CheckInRead.model_validate(entry)


def _cols(obj: object) -> dict[str, object]:
    return {c.key: getattr(obj, c.key) for c in obj.__table__.columns}  # type: ignore[attr-defined]
