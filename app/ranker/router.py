"""The learned ranker: retrain it, list its versions."""

from __future__ import annotations

from fastapi import APIRouter, status

from app.deps import CoordinatorUser, SessionDep
from app.openapi import problems
from app.ranker import service
from app.ranker.schemas import ModelRead
from app.schemas import Accepted

router = APIRouter(prefix="/api/v1", tags=["matching"])


@router.post(
    "/models/retrain",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses=problems(401, 403),
)
def retrain(caller: CoordinatorUser, session: SessionDep) -> Accepted:
    """Fit the ranker on all decisions so far, in the background; GET /models shows the result."""
    job = service.request_retrain(session, caller)
    return Accepted(id=job.id, status=job.status, url="/api/v1/models")


@router.get("/models", response_model=list[ModelRead], responses=problems(401, 403))
def list_models(caller: CoordinatorUser, session: SessionDep) -> list[ModelRead]:
    """Trained ranker versions, newest first, with held-out AUC and precision@k."""
    return [ModelRead.model_validate(m) for m in service.list_models(session)]
