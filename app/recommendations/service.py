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
from app.ranker.service import active_model
from matching import LearnedRanker, NewcomerTable, Recommender


class RecommenderCache:
    """Indexes per process, one per active model version in use, keyed by a cheap fingerprint of the
    mentor table: a promotion or a rollback switches versions, a newly trained candidate never does."""

    MAX_MODELS = 8

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[int | None, tuple[tuple[Any, ...], Recommender]] = {}

    def get(self, session: Session, region_code: str = "") -> Recommender:
        """The recommender for a newcomer's region (its province's active model, else the national one)."""
        fingerprint = session.execute(
            select(
                func.count(), func.max(Mentor.updated_at), func.sum(Mentor.capacity_used), func.max(Mentor.id)
            ).where(Mentor.is_active.is_(True))
        ).one()
        model = active_model(session, region_code)
        model_id = model.id if model is not None else None
        key = tuple(fingerprint)
        with self._lock:
            hit = self._entries.get(model_id)
            if hit is None or hit[0] != key:
                ranker = LearnedRanker.from_dict(model.params) if model is not None else None
                if len(self._entries) >= self.MAX_MODELS:
                    self._entries.pop(next(iter(self._entries)))
                self._entries[model_id] = (key, Recommender(adapter.load_mentors(session), ranker=ranker))
            return self._entries[model_id][1]


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
    proposals = cache.get(session, newcomer.county_code).recommend(table, k, exclude_mentor_ids=excluded)
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
