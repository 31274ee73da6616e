"""GET /newcomers/{id}/recommendations: the mobile app's "mentors for me"."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from app.access import Caller, Role
from app.deps import SessionDep, require_role
from app.openapi import problems
from app.recommendations.schemas import RecommendationRead
from app.recommendations.service import recommend
from app.schemas import IdPath

router = APIRouter(prefix="/api/v1", tags=["matching"])
RecommendationUser = Annotated[Caller, Depends(require_role(Role.ADMIN, Role.COORDINATOR, Role.NEWCOMER))]


@router.get(
    "/newcomers/{newcomer_id}/recommendations",
    response_model=list[RecommendationRead],
    responses=problems(401, 403, 404, 422),
)
def recommendations(
    newcomer_id: IdPath,
    request: Request,
    caller: RecommendationUser,
    session: SessionDep,
    k: Annotated[int, Query(ge=1, le=20)] = 5,
) -> list[RecommendationRead]:
    """Top-k mentors in other counties for this newcomer (the newcomer themself, or their coordinator)."""
    found = recommend(session, caller, request.app.state.recommender_cache, newcomer_id, k)
    return [RecommendationRead.of(r) for r in found]
