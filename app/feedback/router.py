"""Ratings: both parties rate an ended match; coordinators read them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from app.access import Caller
from app.access.roles import MOBILE_ROLES, REVIEWER_ROLES
from app.deps import MobileUser, SessionDep, require_role
from app.feedback import service
from app.feedback.schemas import RatingCreate, RatingRead
from app.openapi import problems
from app.schemas import IdPath

router = APIRouter(prefix="/api/v1", tags=["feedback"])
RatingReader = Annotated[Caller, Depends(require_role(*REVIEWER_ROLES, *MOBILE_ROLES))]


@router.post(
    "/matches/{match_id}/ratings",
    status_code=status.HTTP_201_CREATED,
    response_model=RatingRead,
    responses=problems(401, 403, 404, 409, 422),
)
def rate(match_id: IdPath, body: RatingCreate, caller: MobileUser, session: SessionDep) -> RatingRead:
    """Rate a completed or cancelled match (1-5) with a reason code and optional free text."""
    rating = service.rate_match(
        session,
        caller=caller,
        match_id=match_id,
        score=body.score,
        reason_code=body.reason_code,
        comment=body.comment,
    )
    return RatingRead.model_validate(rating)


@router.get("/matches/{match_id}/ratings", response_model=list[RatingRead], responses=problems(401, 403, 404))
def list_ratings(match_id: IdPath, caller: RatingReader, session: SessionDep) -> list[RatingRead]:
    """Both ratings for a reviewer; only your own for a party."""
    return [
        RatingRead.model_validate(r) for r in service.ratings_for(session, caller=caller, match_id=match_id)
    ]
