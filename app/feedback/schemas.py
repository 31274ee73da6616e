"""Bodies of match ratings."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from app.models.feedback import RATING_REASONS
from app.schemas import Input, Output

RatingReason = Literal[RATING_REASONS]  # type: ignore[valid-type]


class RatingCreate(Input):
    """A party's rating of an ended match."""

    score: int = Field(ge=1, le=5)
    reason_code: RatingReason
    comment: str = Field(
        default="", max_length=2000, description="Read by staff only, never by the other party"
    )


class RatingRead(Output):
    """A rating as its author or a reviewer sees it."""

    id: int
    match_id: int
    party: str
    score: int
    reason_code: str
    comment: str
    created_at: datetime
