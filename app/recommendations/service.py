"""Real-time "mentors for me": answered from a per-process index (app.recommendations.index), checked
against the mentor rows as they are now."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.access import Caller
from app.access.profiles import MENTORS, NEWCOMERS, can_view, shown_phone
from app.errors import NotFound
from app.matches import adapter
from app.matches.parties import pairable
from app.models import Match, Mentor, Newcomer
from app.models.matches import SEAT_HOLDING
from app.recommendations.index import RecommenderCache
from matching import NewcomerTable, ProposalSet

# Asked of the index beyond k, for the mentors the rows now rule out (the index may predate a change).
SPARE = 5


@dataclass(frozen=True, slots=True)
class Recommendation:
    """One mentor suggested for a newcomer, with the phone as the caller may see it."""

    rank: int
    score: float
    score_parts: dict[str, float]
    mentor: Mentor
    phone: str | None
    reasons: dict[str, list[str]]
    suggested_commitments: list[dict[str, Any]]


def recommend(
    session: Session, caller: Caller, cache: RecommenderCache, newcomer_id: int, k: int
) -> list[Recommendation]:
    """Top-k mentors for a newcomer the caller may see, with reasons and suggested commitments."""
    newcomer = session.get(Newcomer, newcomer_id)
    if newcomer is None or not can_view(session, NEWCOMERS, caller, newcomer):
        raise NotFound()
    table = NewcomerTable.from_records(adapter.newcomer_records(session, [newcomer]))
    excluded = [m for n, m in adapter.excluded_pairs(session, [newcomer_id])]
    excluded += list(
        session.scalars(
            select(Match.mentor_id).where(Match.newcomer_id == newcomer_id, Match.status.in_(SEAT_HOLDING))
        )
    )
    recommender = cache.get(session, newcomer.county_code)
    picked: list[tuple[int, Mentor]] = []
    for want in (k + SPARE, recommender.index.pool):
        proposals = recommender.recommend(table, want, exclude_mentor_ids=excluded)
        picked = _still_eligible(session, proposals, newcomer, recommender.policy.separation)
        if len(picked) >= k or len(proposals) < want:
            break
    out = []
    for rank, (i, mentor) in enumerate(picked[:k], start=1):
        out.append(
            Recommendation(
                rank=rank,
                score=float(proposals.score[i]),
                score_parts=proposals.parts_of(i),
                mentor=mentor,
                phone=shown_phone(MENTORS, caller, mentor),
                reasons={"zh": proposals.explain(i, "zh"), "en": proposals.explain(i, "en")},
                suggested_commitments=[adapter.commitment_dict(c) for c in proposals.commitments(i)],
            )
        )
    return out


def _still_eligible(
    session: Session, proposals: ProposalSet, newcomer: Newcomer, separation: str
) -> list[tuple[int, Mentor]]:
    """(position, mentor) of the proposals whose mentor the rows still allow, in the index's order."""
    ids = [int(x) for x in proposals.mentor_id]
    # Only mentors who may still be paired (app.matches.parties): a deactivated account is left out.
    mentors = {m.id: m for m in session.scalars(select(Mentor).where(Mentor.id.in_(ids), pairable(Mentor)))}
    return [
        (i, mentors[mid])
        for i, mid in enumerate(ids)
        if mid in mentors and adapter.may_recommend(mentors[mid], newcomer, separation)
    ]
