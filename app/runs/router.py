"""Matching runs: start one, list them, follow one."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from fastapi.responses import JSONResponse

from app.deps import CoordinatorUser, SessionDep
from app.idempotency import IdempotencyKey, remember, replay, request_fingerprint
from app.openapi import problems
from app.pagination import CursorQuery, LimitQuery
from app.runs import service
from app.runs.schemas import RunCreate, RunRead
from app.schemas import Accepted, IdPath, Page

router = APIRouter(prefix="/api/v1", tags=["matching"])


@router.post(
    "/matching-runs",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses=problems(401, 403, 409, 422),
)
def create_run(
    body: RunCreate,
    caller: CoordinatorUser,
    session: SessionDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> Accepted | JSONResponse:
    """Start a run over a region of your jurisdiction; it executes in the background (poll its URL)."""
    fingerprint = request_fingerprint(body.model_dump())
    service.check_scope(session, caller, body)  # a stored answer only for a scope the caller still covers
    if (
        replayed := replay(
            session, account_id=caller.id, scope="matching-run", key=idempotency_key, fingerprint=fingerprint
        )
    ) is not None:
        return replayed
    run = service.create_run(session, caller, body)
    url = f"/api/v1/matching-runs/{run.id}"
    response.headers["Location"] = url
    result = Accepted(id=run.id, status=run.status, url=url)
    remember(
        session,
        account_id=caller.id,
        scope="matching-run",
        key=idempotency_key,
        fingerprint=fingerprint,
        status_code=202,
        body=result.model_dump(),
        headers={"Location": url},
    )
    return result


@router.get("/matching-runs", response_model=Page[RunRead], responses=problems(401, 403, 422))
def list_runs(
    caller: CoordinatorUser, session: SessionDep, limit: LimitQuery = 20, cursor: CursorQuery = None
) -> Page[RunRead]:
    """Runs over regions inside your jurisdiction, newest first."""
    page = service.list_runs(session, caller, cursor=cursor, limit=limit)
    return Page[RunRead](items=[RunRead.model_validate(r) for r in page.items], next_cursor=page.next_cursor)


@router.post("/matching-runs/{run_id}/cancel", response_model=RunRead, responses=problems(401, 403, 404, 409))
def cancel_run(run_id: IdPath, caller: CoordinatorUser, session: SessionDep) -> RunRead:
    """Stop a queued or running run: it writes no proposal, and an overlapping run may start at once.

    A running run stops at its next checkpoint (in one process after the mentor index and after each
    part of the search; on a cluster after a shard, the other shards cancelled). Cancelling a cancelled
    run returns it; a finished one is 409.
    """
    return RunRead.model_validate(service.cancel_run(session, caller, run_id))


@router.get("/matching-runs/{run_id}", response_model=RunRead, responses=problems(401, 403, 404))
def get_run(run_id: IdPath, caller: CoordinatorUser, session: SessionDep) -> RunRead:
    """Status, progress, parameters, model version, counts and evaluation figures of a run."""
    return RunRead.model_validate(service.get_run(session, caller, run_id))
