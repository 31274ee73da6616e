"""The learned ranker: training data from decisions, fitting, versions, loading for runs."""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.access import Caller
from app.db import utcnow
from app.errors import Unprocessable
from app.jobs.queue import enqueue
from app.jobs.worker import JobContext
from app.matches import adapter
from app.models import Job, Match, Mentor, ModelVersion, Newcomer
from app.models.matches import MatchStatus
from matching import LearnedRanker, MentorTable, NewcomerTable, pair_features

# What a decision says about a pair: coordinators approved it, or someone turned it down.
POSITIVE = (MatchStatus.APPROVED, MatchStatus.ACTIVE, MatchStatus.COMPLETED)
NEGATIVE = (MatchStatus.REJECTED, MatchStatus.DECLINED)
MIN_DECISIONS = 20
MODELS_LISTED = 100


def latest_model(session: Session) -> ModelVersion | None:
    """The most recently trained ranker."""
    return session.scalar(select(ModelVersion).order_by(ModelVersion.id.desc()).limit(1))


def list_models(session: Session) -> list[ModelVersion]:
    """The trained versions, newest first."""
    return list(session.scalars(select(ModelVersion).order_by(ModelVersion.id.desc()).limit(MODELS_LISTED)))


def request_retrain(session: Session, caller: Caller) -> Job:
    """Queue a retraining job on behalf of the caller (one attempt: a failure is reported, not retried)."""
    return enqueue(session, kind="retrain", ref_id=caller.id, max_attempts=1)


def load_ranker(session: Session, model_id: int) -> LearnedRanker:
    """A stored ranker, rebuilt from its JSON parameters."""
    model = session.get(ModelVersion, model_id)
    if model is None:
        raise Unprocessable(code="no_trained_model")
    return LearnedRanker.from_dict(model.params)


def training_data(session: Session) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pair features, labels (approved = 1) and newcomer groups of every decided pair."""
    decided = session.execute(
        select(Match.newcomer_id, Match.mentor_id, Match.status)
        .where(Match.status.in_(POSITIVE + NEGATIVE))
        .order_by(Match.id)
    ).all()
    if not decided:
        return np.empty((0, 0)), np.empty(0), np.empty(0)
    mentor_rows = list(
        session.scalars(select(Mentor).where(Mentor.id.in_({m for _, m, _ in decided})).order_by(Mentor.id))
    )
    newcomer_rows = list(
        session.scalars(
            select(Newcomer).where(Newcomer.id.in_({n for n, _, _ in decided})).order_by(Newcomer.id)
        )
    )
    mentors = MentorTable.from_records(adapter.mentor_records(session, mentor_rows))
    newcomers = NewcomerTable.from_records(adapter.newcomer_records(session, newcomer_rows))
    n_ids = np.array([n for n, _, _ in decided])
    features = pair_features(
        mentors, newcomers, mentors.rows_of([m for _, m, _ in decided]), newcomers.rows_of(n_ids)
    )
    labels = np.array([status in POSITIVE for _, _, status in decided], dtype=np.int8)
    return features, labels, n_ids


def retrain(session: Session, *, trained_by: int | None) -> ModelVersion:
    """Fit a ranker on all decisions so far and store it as a new version with held-out metrics."""
    features, labels, groups = training_data(session)
    if len(labels) < MIN_DECISIONS or labels.min(initial=1) == labels.max(initial=0):
        raise Unprocessable(
            code="not_enough_decisions",
            detail=(
                f"至少需要 {MIN_DECISIONS} 条且包含批准与拒绝的决定",
                f"need at least {MIN_DECISIONS} decisions, both approvals and rejections",
            ),
        )
    number = (session.scalar(select(func.count()).select_from(ModelVersion)) or 0) + 1
    version = f"v{number}-{utcnow():%Y%m%d%H%M%S}"
    ranker = LearnedRanker.fit(features, labels, groups=groups, version=version)
    model = ModelVersion(
        version=version,
        params=_jsonable(ranker.to_dict()),
        metrics=_jsonable(ranker.metrics),
        n_samples=len(labels),
        trained_by=trained_by,
    )
    session.add(model)
    session.flush()
    return model


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def run_retrain_job(ctx: JobContext) -> None:
    """The job form of retrain (ref_id is the requesting account)."""
    with ctx.sessions.begin() as s:
        retrain(s, trained_by=ctx.ref_id or None)
