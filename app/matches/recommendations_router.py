"""GET /newcomers/{id}/recommendations: the mobile app's "mentors for me"."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from app.access import Caller, Role
from app.deps import SessionDep, require_role
from app.matches.recommendations import recommend
from app.matches.schemas import CommitmentSuggestion, PartySummary
from app.openapi import problems
from app.schemas import IdPath, Output

router = APIRouter(prefix="/api/v1", tags=["matching"])
RecommendationUser = Annotated[Caller, Depends(require_role(Role.ADMIN, Role.COORDINATOR, Role.NEWCOMER))]


class Recommendation(Output):
    """A mentor suggested in real time, with why and what they could share."""

    rank: int
    score: float
    score_parts: dict[str, float]
    mentor: PartySummary
    reasons: dict[str, list[str]]
    suggested_commitments: list[CommitmentSuggestion]


@router.get(
    "/newcomers/{newcomer_id}/recommendations",
    response_model=list[Recommendation],
    responses=problems(401, 403, 404, 422),
)
def recommendations(
    newcomer_id: IdPath,
    request: Request,
    caller: RecommendationUser,
    session: SessionDep,
    k: Annotated[int, Query(ge=1, le=20)] = 5,
) -> list[Any]:
    """Top-k mentors in other counties for this newcomer (the newcomer themself, or their coordinator)."""
    return recommend(session, caller, request.app.state.recommender_cache, newcomer_id, k)
