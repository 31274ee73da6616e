"""The per-process mentor index behind "mentors for me": rebuilt off the readers' path, swapped in whole.

Building an index (load every open mentor, fit the features, embed) costs far more than answering
from it. Mentors edit their profiles all the time, so an index is never rebuilt for every change:

- The index of a model version is built from the mentor table as one request's transaction saw it,
  and stamped with a cheap fingerprint of that table (active mentors, last update, seats taken, last id).
- A request that finds the table changed (the fingerprint differs) and the index at least
  `refresh_seconds` old rebuilds it, in its own thread, holding no lock another request needs; all other
  requests keep answering from the current index meanwhile, and the new one replaces it in one
  assignment. Only one rebuild per model runs at a time, and at most one starts per interval.
- So under steady traffic an edit shows in the answers within `refresh_seconds` plus one build, however
  often mentors change, and rebuilds cost at most one build per interval. A request that arrives while
  a rebuild runs gets the previous index. The hard rules do not wait for a rebuild: the service checks
  each answer against the mentor rows as they are now (active, a seat left, another region).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from threadpoolctl import threadpool_limits

from app.matches import adapter
from app.models import Mentor, ModelVersion
from app.ranker.service import active_model
from matching import LearnedRanker, Recommender

Fingerprint = tuple[Any, ...]


def table_fingerprint(session: Session) -> Fingerprint:
    """Changes whenever a mentor is added, edited, (de)activated or takes or frees a seat."""
    return tuple(
        session.execute(
            select(
                func.count(), func.max(Mentor.updated_at), func.sum(Mentor.capacity_used), func.max(Mentor.id)
            ).where(Mentor.is_active.is_(True))
        ).one()
    )


# threadpool_limits changes a process-wide setting and restores it on exit: builds take turns, so that
# two overlapping ones cannot restore each other's values in the wrong order.
_blas_limit = threading.Lock()


def build_recommender(session: Session, model: ModelVersion | None) -> Recommender:
    """An index over every open mentor, re-ranked by the model version (None: the default scorer)."""
    ranker = LearnedRanker.from_dict(model.params) if model is not None else None
    mentors = adapter.load_mentors(session)
    # One BLAS thread: the text model's SVD of a few thousand rows is small, and multi-threaded BLAS
    # spends it waiting for its threads on a busy machine (2,000 mentors: 6 s against 0.45 s on the
    # loaded bench machine), while taking the core the requests answered meanwhile need.
    with _blas_limit, threadpool_limits(limits=1, user_api="blas"):
        return Recommender(mentors, ranker=ranker)


@dataclass(frozen=True, slots=True)
class _Entry:
    fingerprint: Fingerprint
    recommender: Recommender
    built_at: float  # clock reading when its mentors were read


class RecommenderCache:
    """Indexes per process, one per active model version in use (see the module docstring).

    A promotion or a rollback switches versions (the new version's first index is built by its first
    caller while the others for that version wait); a newly trained candidate is never used.
    """

    MAX_MODELS = 8

    def __init__(self, refresh_seconds: float = 10.0, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.refresh_seconds = refresh_seconds
        self._clock = clock
        self._lock = threading.Lock()  # guards the three dicts; held for lookups and swaps only
        self._entries: dict[int | None, _Entry] = {}
        self._rebuilding: set[int | None] = set()
        self._first_build: dict[int | None, threading.Lock] = {}

    def get(self, session: Session, region_code: str = "") -> Recommender:
        """The recommender for a newcomer's region (its province's active model, else the national one)."""
        fingerprint = table_fingerprint(session)
        model = active_model(session, region_code)
        model_id = model.id if model is not None else None
        entry = self._entries.get(model_id)
        if entry is None:
            return self._first(session, model, model_id, fingerprint)
        if entry.fingerprint == fingerprint or not self._claim_rebuild(model_id, entry):
            return entry.recommender
        try:
            return self._build(session, model, model_id, fingerprint).recommender
        finally:
            with self._lock:
                self._rebuilding.discard(model_id)

    def _claim_rebuild(self, model_id: int | None, entry: _Entry) -> bool:
        # One rebuild per model at a time, and none while the index is younger than the interval.
        with self._lock:
            if model_id in self._rebuilding or self._clock() - entry.built_at < self.refresh_seconds:
                return False
            self._rebuilding.add(model_id)
            return True

    def _first(
        self, session: Session, model: ModelVersion | None, model_id: int | None, fingerprint: Fingerprint
    ) -> Recommender:
        with self._lock:
            first = self._first_build.setdefault(model_id, threading.Lock())
        with first:  # nothing to answer from yet: the others wait for this one build
            entry = self._entries.get(model_id)
            if entry is None:
                entry = self._build(session, model, model_id, fingerprint)
            return entry.recommender

    def _build(
        self, session: Session, model: ModelVersion | None, model_id: int | None, fingerprint: Fingerprint
    ) -> _Entry:
        started = self._clock()
        entry = _Entry(fingerprint, build_recommender(session, model), started)
        with self._lock:
            if model_id not in self._entries and len(self._entries) >= self.MAX_MODELS:
                evicted = next(iter(self._entries))
                self._entries.pop(evicted)
                self._first_build.pop(evicted, None)
            self._entries[model_id] = entry
        return entry
