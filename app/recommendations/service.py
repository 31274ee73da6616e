"""Real-time "mentors for me": a Recommender built once over all open mentors, rebuilt when they change."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.access import Caller
from app.access.profiles import MENTORS, NEWCOMERS, can_view, shown_phone
from app.errors import NotFound
from app.matches import adapter
from app.models import Match, Mentor, Newcomer
from app.models.matches import SEAT_HOLDING
from app.ranker.service import latest_model
from matching import LearnedRanker, NewcomerTable, Recommender


class RecommenderCache:
    """One index per process, keyed by a cheap fingerprint of the mentor table and the model version."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[Any, ...] | None = None
        self._recommender: Recommender | None = None

    def get(self, session: Session) -> Recommender:
        """The current recommender, rebuilt if any mentor or the ranker changed since it was built."""
        fingerprint = session.execute(
            select(
                func.count(), func.max(Mentor.updated_at), func.sum(Mentor.capacity_used), func.max(Mentor.id)
            ).where(Mentor.is_active.is_(True))
        ).one()
        model = latest_model(session)
        key = (*fingerprint, model.id if model else None)
        with self._lock:
            if self._key != key or self._recommender is None:
                ranker = LearnedRanker.from_dict(model.params) if model else None
                self._recommender = Recommender(adapter.load_mentors(session), ranker=ranker)
                self._key = key
            return self._recommender


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
    proposals = cache.get(session).recommend(table, k, exclude_mentor_ids=excluded)
    mentors = {
        m.id: m
        for m in session.scalars(select(Mentor).where(Mentor.id.in_([int(x) for x in proposals.mentor_id])))
    }
    out = []
    for i in range(len(proposals)):
        mentor = mentors[int(proposals.mentor_id[i])]
        out.append(
            Recommendation(
                rank=int(proposals.rank[i]),
                score=float(proposals.score[i]),
                score_parts=proposals.parts_of(i),
                mentor=mentor,
                phone=shown_phone(MENTORS, caller, mentor),
                reasons={"zh": proposals.explain(i, "zh"), "en": proposals.explain(i, "en")},
                suggested_commitments=[adapter.commitment_dict(c) for c in proposals.commitments(i)],
            )
        )
    return out
