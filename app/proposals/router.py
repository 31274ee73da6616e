"""The coordinator's review queue: list, read, approve, reject."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from app.access import Caller
from app.access.matches import MatchView
from app.deps import CoordinatorUser, OneHopRoute, ReviewerUser, SessionDep
from app.etags import IfMatch, etag
from app.idempotency import IdempotencyKey, remember, replay, request_fingerprint
from app.models.matches import MatchStatus
from app.openapi import problems
from app.pagination import CursorQuery, LimitQuery
from app.proposals import service
from app.proposals.schemas import (
    PENDING_ALIAS,
    ApproveRequest,
    ProposalRead,
    RejectRequest,
    StatusFilter,
    proposal_body,
)
from app.responses import json_response
from app.schemas import MAX_ID, IdPath, Page, RegionCodeStr

# The session ends in the handler's own thread-pool hop (app.deps.OneHopRoute); the page and a single
# proposal also look the caller up there (`ReviewerUser`).
router = APIRouter(prefix="/api/v1/proposals", tags=["proposals"], route_class=OneHopRoute)


def _read(session: Session, view: MatchView, response: Response | None = None) -> ProposalRead:
    if response is not None:
        response.headers["ETag"] = etag(view.match.version)
    record = service.track_records(session, [view.mentor])[view.mentor.id]
    return ProposalRead.of(view, record)


@router.get("", response_model=Page[ProposalRead], responses=problems(401, 403, 422))
def list_proposals(
    caller: ReviewerUser,
    session: SessionDep,
    status: Annotated[
        StatusFilter, Query(description='Match status; "pending" is the former name of "proposed"')
    ] = MatchStatus.PROPOSED,
    region: Annotated[RegionCodeStr | None, Query(description="Newcomer region prefix")] = None,
    newcomer: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Only this newcomer's proposals (a profile id)")
    ] = None,
    sort: Annotated[
        Literal["-score", "-created"], Query(description="-score: best first; -created: newest first")
    ] = "-score",
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Response:
    """Proposals for newcomers in your jurisdiction, best score first, with both profiles summarised."""
    wanted = MatchStatus.PROPOSED if status == PENDING_ALIAS else MatchStatus(status)
    f = service.ProposalFilter(status=wanted, region=region, newcomer_id=newcomer)
    page = service.review_queue_rows(session, caller, f, sort=sort, cursor=cursor, limit=limit)
    records = service.track_record_rows(session, [v.mentor for v in page.items])
    # Built from the rows, not validated again (a test holds the body to ProposalRead).
    items = [proposal_body(v, records[v.mentor.id]) for v in page.items]
    return json_response({"items": items, "next_cursor": page.next_cursor})


@router.get("/{proposal_id}", response_model=ProposalRead, responses=problems(401, 403, 404))
def get_proposal(
    proposal_id: IdPath, caller: ReviewerUser, session: SessionDep, response: Response
) -> ProposalRead:
    """One proposal in your jurisdiction; its ETag is needed to approve or reject it."""
    return _read(session, service.reviewable(session, caller, proposal_id), response)


def _decide(
    action: str,
    proposal_id: int,
    body: ApproveRequest | RejectRequest,
    caller: Caller,
    session: Session,
    response: Response,
    if_match: str | None,
    idempotency_key: str | None,
) -> ProposalRead | JSONResponse:
    """Approve or reject once: a retried request with the same Idempotency-Key gets the first answer."""
    scope, fingerprint = f"{action}:{proposal_id}", request_fingerprint(body.model_dump())
    # A stored answer is given only to a caller who may still review the proposal (404 otherwise):
    # a coordinator moved to another jurisdiction does not read it back with an old key.
    service.reviewable(session, caller, proposal_id)
    replayed = replay(
        session, account_id=caller.id, scope=scope, key=idempotency_key, fingerprint=fingerprint
    )
    if replayed is not None:
        return replayed
    if isinstance(body, ApproveRequest):
        commitments = [c.model_dump() for c in body.commitments] if body.commitments is not None else None
        view = service.approve(
            session, caller, proposal_id, if_match=if_match, commitments=commitments, note=body.note
        )
    else:
        view = service.reject(
            session, caller, proposal_id, if_match=if_match, reason_code=body.reason_code, note=body.note
        )
    result = _read(session, view, response)
    remember(
        session,
        account_id=caller.id,
        scope=scope,
        key=idempotency_key,
        fingerprint=fingerprint,
        status_code=200,
        body=result.model_dump(mode="json"),
        headers={"ETag": etag(view.match.version)},
    )
    return result


@router.post(
    "/{proposal_id}/approve",
    response_model=ProposalRead,
    responses=problems(401, 403, 404, 409, 412, 422, 428),
)
def approve(
    proposal_id: IdPath,
    body: ApproveRequest,
    caller: CoordinatorUser,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> ProposalRead | JSONResponse:
    """Approve (If-Match required): takes one of the mentor's seats and the newcomer's only slot, or 409."""
    return _decide("approve", proposal_id, body, caller, session, response, if_match, idempotency_key)


@router.post(
    "/{proposal_id}/reject",
    response_model=ProposalRead,
    responses=problems(401, 403, 404, 409, 412, 422, 428),
)
def reject(
    proposal_id: IdPath,
    body: RejectRequest,
    caller: CoordinatorUser,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> ProposalRead | JSONResponse:
    """Reject with a reason code (If-Match required); the pair is never proposed again."""
    return _decide("reject", proposal_id, body, caller, session, response, if_match, idempotency_key)
