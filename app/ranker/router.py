"""The learned re-ranker's versions: retrain (through the gate), list, read, promote, roll back."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, status

from app.deps import CoordinatorUser, SessionDep
from app.openapi import problems
from app.ranker import service as models_service
from app.ranker.schemas import ModelRead, RollbackRequest, RollbackResult
from app.schemas import Accepted, IdPath

router = APIRouter(prefix="/api/v1/models", tags=["matching"])


def _read(model: Any) -> ModelRead:
    return ModelRead(
        id=model.id,
        version=model.version,
        jurisdiction_code=model.jurisdiction_code,
        status=model.status,
        kind=model.kind,
        features=list(model.params.get("feature_names", [])),
        importances=model.params.get("importances") or {},
        learned=model.params.get("learned") or {"zh": [], "en": []},
        metrics=model.metrics,
        gate=model.gate,
        n_samples=model.n_samples,
        trained_at=model.trained_at,
        promoted_at=model.promoted_at,
    )


@router.post(
    "/retrain",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses=problems(401, 403, 422),
)
def retrain(caller: CoordinatorUser, session: SessionDep) -> Accepted:
    """Fit a candidate for your province (admins: national) in the background; poll the job's URL.

    The promotion gate decides whether the candidate becomes active (see GET /api/v1/models).
    """
    job = models_service.request_retrain(session, caller)
    return Accepted(id=job.id, status=job.status, url=f"/api/v1/jobs/{job.id}")


@router.get("", response_model=list[ModelRead], responses=problems(401, 403))
def list_models(
    caller: CoordinatorUser,
    session: SessionDep,
    jurisdiction: str | None = Query(default=None, pattern=r"^([0-9]{2})?$", description='"" for national'),
) -> list[ModelRead]:
    """Versions of your province and the national ones, newest first."""
    return [_read(m) for m in models_service.list_versions(session, caller, jurisdiction)]


@router.get("/{model_id}", response_model=ModelRead, responses=problems(401, 403, 404))
def get_model(model_id: IdPath, caller: CoordinatorUser, session: SessionDep) -> ModelRead:
    """One version with its features, importances, what it learned in words, metrics and gate verdict."""
    return _read(models_service.get_version(session, caller, model_id))


@router.post("/{model_id}/promote", response_model=ModelRead, responses=problems(401, 403, 404, 409))
def promote(model_id: IdPath, caller: CoordinatorUser, session: SessionDep) -> ModelRead:
    """Activate a version of your jurisdiction that passed the gate (or was active before)."""
    return _read(models_service.promote(session, caller, model_id))


@router.post("/rollback", response_model=RollbackResult, responses=problems(401, 403, 409, 422))
def roll_back(body: RollbackRequest, caller: CoordinatorUser, session: SessionDep) -> RollbackResult:
    """Retire the active version and re-activate the previous one (or fall back)."""
    previous = models_service.roll_back(session, caller, body.jurisdiction_code)
    return RollbackResult(active=_read(previous) if previous is not None else None)
