"""Bodies of real-time recommendations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.proposals.schemas import CommitmentSuggestion, PartySummary
from app.schemas import Output

if TYPE_CHECKING:
    from app.recommendations.service import Recommendation


class RecommendationRead(Output):
    """A mentor suggested in real time, with why and what they could share."""

    rank: int
    score: float
    score_parts: dict[str, float]
    mentor: PartySummary
    reasons: dict[str, list[str]]
    suggested_commitments: list[CommitmentSuggestion]

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
