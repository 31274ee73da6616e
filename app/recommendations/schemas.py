"""Bodies of real-time recommendations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from app.proposals.schemas import CommitmentSuggestion, PartySummary
from app.schemas import Output

if TYPE_CHECKING:
    from app.recommendations.service import Recommendation


class RecommendationRead(Output):
    """A mentor suggested in real time, with why and what they could share."""

    rank: int = Field(description="Position in this answer, from 1")
    score: float = Field(description="The active model's score; higher ranks first")
    score_parts: dict[str, float] = Field(description="The score's parts by name (product, distance, ...)")
    mentor: PartySummary = Field(description="The mentor; the phone is masked unless your role may see it")
    reasons: dict[str, list[str]] = Field(description="Why this mentor, in Chinese (zh) and English (en)")
    suggested_commitments: list[CommitmentSuggestion] = Field(
        description="What they could share: the mentor's offers that you need (may be empty)"
    )

    @classmethod
    def of(cls, r: Recommendation) -> RecommendationRead:
        """Map one recommendation."""
        return cls(
            rank=r.rank,
            score=r.score,
            score_parts=r.score_parts,
            mentor=PartySummary.of(r.mentor, phone=r.phone),
            reasons=r.reasons,
            suggested_commitments=[CommitmentSuggestion.model_validate(c) for c in r.suggested_commitments],
        )
