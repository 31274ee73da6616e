"""Matches after approval: the parties' view, acceptance, ending, audit log, commitments, check-ins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from app.access import ALL_ROLES, Caller, Role
from app.access.matches import MatchView, load_view
from app.deps import CoordinatorUser, MobileUser, SessionDep, require_role
from app.matches import commitments, reasons, service
from app.matches.schemas import (
    AcceptRequest,
    CancelRequest,
    CheckInCreate,
    CheckInRead,
    CommitmentRead,
    DeclineRequest,
    TransitionRead,
)
from app.models.matches import MatchStatus
from app.openapi import problems
from app.pagination import CursorQuery, LimitQuery
from app.proposals.schemas import ProposalRead
from app.schemas import IdPath, Page

router = APIRouter(prefix="/api/v1", tags=["matches"])
# Everyone but township offices: the parties, their reviewers, and admins.
MatchUser = Annotated[Caller, Depends(require_role(*(r for r in ALL_ROLES if r is not Role.TOWNSHIP_OFFICE)))]


def _body(view: MatchView) -> ProposalRead:
    return ProposalRead.of(view)


@router.get("/me/matches", response_model=Page[ProposalRead], responses=problems(401, 403, 422))
def my_matches(
    caller: MobileUser, session: SessionDep, limit: LimitQuery = 50, cursor: CursorQuery = None
) -> Page[ProposalRead]:
    """Your approved, active and past matches, newest first."""
    page = service.my_matches(session, caller, cursor=cursor, limit=limit)
    return Page[ProposalRead](items=[_body(v) for v in page.items], next_cursor=page.next_cursor)


@router.get("/matches/{match_id}", response_model=ProposalRead, responses=problems(401, 403, 404))
def get_match(match_id: IdPath, caller: MatchUser, session: SessionDep) -> ProposalRead:
    """One match you are a party to, or review."""
    return _body(load_view(session, caller, match_id))


@router.post(
    "/matches/{match_id}/accept", response_model=ProposalRead, responses=problems(401, 403, 404, 409, 422)
)
def accept(match_id: IdPath, body: AcceptRequest, caller: MatchUser, session: SessionDep) -> ProposalRead:
    """Accept an approved match; it becomes active once both parties have accepted."""
    return _body(service.accept(session, caller, match_id, on_behalf_of=body.on_behalf_of))


@router.post(
    "/matches/{match_id}/decline", response_model=ProposalRead, responses=problems(401, 403, 404, 409, 422)
)
def decline(match_id: IdPath, body: DeclineRequest, caller: MatchUser, session: SessionDep) -> ProposalRead:
    """Decline an approved match; the mentor's seat is released (staff: for a party without an account)."""
    return _body(service.decline(session, caller, match_id, note=body.note, on_behalf_of=body.on_behalf_of))


@router.post(
    "/matches/{match_id}/complete", response_model=ProposalRead, responses=problems(401, 403, 404, 409)
)
def complete(match_id: IdPath, caller: CoordinatorUser, session: SessionDep) -> ProposalRead:
    """Close an active match as completed (coordinator)."""
    return _body(
        service.end(session, caller, match_id, to_status=MatchStatus.COMPLETED, reason=reasons.COMPLETED)
    )


@router.post(
    "/matches/{match_id}/cancel", response_model=ProposalRead, responses=problems(401, 403, 404, 409, 422)
)
def cancel(match_id: IdPath, body: CancelRequest, caller: MatchUser, session: SessionDep) -> ProposalRead:
    """End an active match early, with a reason."""
    reason = reasons.decided(body.reason_code, body.note)
    return _body(service.end(session, caller, match_id, to_status=MatchStatus.CANCELLED, reason=reason))


@router.get(
    "/matches/{match_id}/transitions", response_model=list[TransitionRead], responses=problems(401, 403, 404)
)
def transitions(match_id: IdPath, caller: CoordinatorUser, session: SessionDep) -> list[TransitionRead]:
    """The audit log of a match: who moved it, when, from what to what, and why."""
    return [TransitionRead.model_validate(t) for t in service.transitions_of(session, caller, match_id)]


@router.get(
    "/matches/{match_id}/commitments", response_model=list[CommitmentRead], responses=problems(401, 403, 404)
)
def list_commitments(match_id: IdPath, caller: MatchUser, session: SessionDep) -> list[CommitmentRead]:
    """Commitments of a match, with next due date and whether a check-in is overdue."""
    return [CommitmentRead.of(c) for c in commitments.list_for_match(session, caller, match_id)]


@router.post(
    "/commitments/{commitment_id}/check-ins",
    status_code=status.HTTP_201_CREATED,
    response_model=CheckInRead,
    responses={200: {"model": CheckInRead, "description": "Replaced an earlier report"}}
    | problems(401, 403, 404, 409, 422),
)
def check_in(
    commitment_id: IdPath, body: CheckInCreate, caller: MatchUser, session: SessionDep, response: Response
) -> CheckInRead:
    """Report on a commitment period (201; a later report by the same party replaces it, 200)."""
    reported = commitments.check_in(
        session,
        caller,
        commitment_id,
        outcome=body.outcome,
        note=body.note,
        evidence_url=body.evidence_url,
        on_behalf_of=body.on_behalf_of,
    )
    if reported.replaced:
        response.status_code = status.HTTP_200_OK
    return CheckInRead.model_validate(reported.entry)
