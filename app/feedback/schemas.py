"""Bodies of match ratings."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field

from app.models.feedback import RATING_REASONS
from app.schemas import Input, Output

RatingReason = Literal[RATING_REASONS]  # type: ignore[valid-type]


class RatingCreate(Input):
    """A party's rating of an ended match."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"score": 5, "reason_code": "useful_knowhow", "comment": "直播教得很细"}]
        }
    )

    score: int = Field(ge=1, le=5)
    """1 (poor) to 5 (excellent)"""
    reason_code: RatingReason
    """The main reason for the score"""
    comment: str = Field(
        default="", max_length=2000, description="Read by staff only, never by the other party"
    )


class RatingRead(Output):
    """A rating as its author or a reviewer sees it."""

    id: int
    """Rating id"""
    match_id: int
    """The rated match"""
    party: str
    """Who rated: mentor or newcomer"""
    score: int
    """1 to 5"""
    reason_code: str
    """The main reason"""
    comment: str
    """Free text (staff and the author only)"""
    created_at: datetime
    """When (UTC)"""
