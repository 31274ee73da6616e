"""Learned re-ranker versions: training data per jurisdiction, retrain through the gate, promote, roll back.

A version belongs to a jurisdiction: a province (its coordinators' decisions) or the nation (""). At most
one version per jurisdiction is active; runs and recommendations use the active version of the
newcomer's province, else the national one, else the default scorer. A new version is active only if
the gate says it beats the one it would replace; otherwise it stays a candidate with its metrics.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.access import Caller
from app.access.models import can_manage_model, can_view_model, model_chain, model_jurisdiction
from app.access.regions import under
from app.db import utcnow
from app.errors import Conflict, NotFound, Unprocessable
from app.jobs.queue import enqueue
from app.jobs.worker import JobContext
from app.matches import adapter
from app.models import Account, Job, Match, Mentor, ModelVersion, Newcomer
from app.models.matches import MatchStatus, ModelStatus
from matching import RERANK_FEATURE_NAMES, LearnedRanker, MentorTable, NewcomerTable, gate, pair_features
from matching.ranker import FORMAT

# What a decision says about a pair: coordinators approved it, or someone turned it down.
POSITIVE = (MatchStatus.APPROVED, MatchStatus.ACTIVE, MatchStatus.COMPLETED)
NEGATIVE = (MatchStatus.REJECTED, MatchStatus.DECLINED)
MIN_DECISIONS = 20
_COUNTS = {
    name: RERANK_FEATURE_NAMES.index(name) for name in ("past_approvals", "past_declines", "approval_rate")
}


def active_model(session: Session, region_code: str) -> ModelVersion | None:
    """The active version for a region: its province's, else the national one (None: default scorer)."""
    for code in model_chain(region_code):
        model = session.scalar(
            select(ModelVersion).where(
                ModelVersion.jurisdiction_code == code, ModelVersion.status == ModelStatus.ACTIVE
            )
        )
        if model is not None:
            return model
    return None


def active_model_for(session: Session, caller: Caller) -> ModelVersion | None:
    """The version a run of the caller's would re-rank with: their province's active one, else national."""
    return active_model(session, model_jurisdiction(caller))


def request_retrain(session: Session, caller: Caller) -> Job:
    """Queue a retraining job for the caller's jurisdiction (one attempt); 422 at once when there are
    too few decisions to fit, so the refusal never hides in a failed job."""
    ensure_enough_decisions(session, model_jurisdiction(caller))
    return enqueue(session, kind="retrain", ref_id=caller.id, max_attempts=1)


def load_ranker(session: Session, model_id: int) -> LearnedRanker:
    """A stored re-ranker, rebuilt from its JSON parameters."""
    model = session.get(ModelVersion, model_id)
    if model is None or model.params.get("format") != FORMAT:
        raise Unprocessable(code="no_trained_model")
    return LearnedRanker.from_dict(model.params)


def usable_version(session: Session, caller: Caller, model_id: int) -> ModelVersion:
    """A version the caller may pin on a run (theirs or national, current format), else 422."""
    model = session.get(ModelVersion, model_id)
    if model is None or not can_view_model(caller, model) or model.params.get("format") != FORMAT:
        raise Unprocessable(
            code="no_trained_model", detail=("无法使用该模型版本", "model version not usable")
        )
    return model


def training_data(
    session: Session, jurisdiction: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Features, labels (approved = 1), newcomer groups, reject reasons and decision times of every
    decided pair whose newcomer lies in the jurisdiction."""
    stmt = (
        select(Match.newcomer_id, Match.mentor_id, Match.status, Match.reason_code, Match.decided_at)
        .where(Match.status.in_(POSITIVE + NEGATIVE))
        .order_by(Match.id)
    )
    if jurisdiction:
        stmt = stmt.where(under(Match.newcomer_county_code, jurisdiction))
    decided = session.execute(stmt).all()
    empty = np.empty(0)
    if not decided:
        return np.empty((0, len(RERANK_FEATURE_NAMES))), empty, empty, empty, empty
    mentor_rows = list(
        session.scalars(select(Mentor).where(Mentor.id.in_({d[1] for d in decided})).order_by(Mentor.id))
    )
    newcomer_rows = list(
        session.scalars(
            select(Newcomer).where(Newcomer.id.in_({d[0] for d in decided})).order_by(Newcomer.id)
        )
    )
    mentors = MentorTable.from_records(adapter.mentor_records(session, mentor_rows))
    newcomers = NewcomerTable.from_records(adapter.newcomer_records(session, newcomer_rows))
    n_ids = np.array([d[0] for d in decided])
    features = pair_features(
        mentors, newcomers, mentors.rows_of([d[1] for d in decided]), newcomers.rows_of(n_ids)
    )
    labels = np.array([d[2] in POSITIVE for d in decided], dtype=np.int8)
    # The mentor's past decisions must not include the one being learned (that would leak the label).
    yes = features[:, _COUNTS["past_approvals"]] - labels
    no = features[:, _COUNTS["past_declines"]] - (1 - labels)
    features[:, _COUNTS["past_approvals"]], features[:, _COUNTS["past_declines"]] = yes, no
    features[:, _COUNTS["approval_rate"]] = (yes + 1.0) / (yes + no + 2.0)
    reasons = np.array([d[3] or "" for d in decided], dtype=object)
    when = np.array([d[4].timestamp() if d[4] else 0.0 for d in decided])
    return features, labels, n_ids, reasons, when


def ensure_enough_decisions(session: Session, jurisdiction: str) -> None:
    """422 unless the jurisdiction has enough decisions, approvals and rejections both, to fit a ranker."""

    def decided(statuses: tuple[MatchStatus, ...]) -> int:
        stmt = select(func.count()).select_from(Match).where(Match.status.in_(statuses))
        if jurisdiction:
            stmt = stmt.where(under(Match.newcomer_county_code, jurisdiction))
        return session.scalar(stmt) or 0

    positives, negatives = decided(POSITIVE), decided(NEGATIVE)
    if positives + negatives < MIN_DECISIONS or not positives or not negatives:
        raise Unprocessable(
            code="not_enough_decisions",
            detail=(
                f"至少需要 {MIN_DECISIONS} 条且包含批准与拒绝的决定"
                f"（现有批准 {positives}，拒绝 {negatives}）",
                f"need at least {MIN_DECISIONS} decisions, both approvals and rejections "
                f"(have {positives} approved, {negatives} rejected)",
            ),
            min_decisions=MIN_DECISIONS,
            approvals=positives,
            rejections=negatives,
        )


def retrain(session: Session, *, trained_by: int | None, jurisdiction: str = "") -> ModelVersion:
    """Fit a candidate on the jurisdiction's decisions; the gate decides whether it becomes active."""
    ensure_enough_decisions(session, jurisdiction)
    features, labels, groups, reasons, when = training_data(session, jurisdiction)
    current = active_model(session, jurisdiction or "")
    current_ranker = load_ranker(session, current.id) if current is not None else None
    # Held-out decisions come from those the current model never saw, when there are any.
    newest = when > current.trained_at.timestamp() if current is not None else None
    number = (session.scalar(select(func.count()).select_from(ModelVersion)) or 0) + 1
    version = f"v{number}-{jurisdiction or 'cn'}-{utcnow():%Y%m%d%H%M%S}"
    ranker = LearnedRanker.fit(
        features, labels, groups=groups, reasons=reasons, newest=newest, version=version, seed=number
    )
    verdict = gate(ranker, current_ranker, features, labels)
    model = ModelVersion(
        version=version,
        jurisdiction_code=jurisdiction,
        status=ModelStatus.CANDIDATE,
        kind=ranker.kind,
        params=_jsonable(ranker.to_dict()),
        metrics=_jsonable(ranker.to_dict()["metrics"]),
        gate=_jsonable({**verdict.to_dict(), "against": current.id if current is not None else None}),
        n_samples=len(labels),
        trained_by=trained_by,
    )
    session.add(model)
    session.flush()
    # A province's first model competes with the national fallback it replaces for that province.
    if verdict.promote:
        _activate(session, model, promoted_by=trained_by)
    return model


def _activate(
    session: Session, model: ModelVersion, *, promoted_by: int | None, restamp: bool = True
) -> None:
    session.execute(
        update(ModelVersion)
        .where(
            ModelVersion.jurisdiction_code == model.jurisdiction_code,
            ModelVersion.status == ModelStatus.ACTIVE,
            ModelVersion.id != model.id,
        )
        .values(status=ModelStatus.RETIRED)
    )
    model.status = ModelStatus.ACTIVE
    if restamp:
        model.promoted_at, model.promoted_by = utcnow(), promoted_by
    session.flush()


def get_version(session: Session, caller: Caller, model_id: int) -> ModelVersion:
    """A version the caller may see, else 404."""
    model = session.get(ModelVersion, model_id)
    if model is None or not can_view_model(caller, model):
        raise NotFound()
    return model


def list_versions(session: Session, caller: Caller, jurisdiction: str | None = None) -> list[ModelVersion]:
    """Versions the caller may see (optionally one jurisdiction's), newest first."""
    stmt = select(ModelVersion).order_by(ModelVersion.id.desc()).limit(200)
    if jurisdiction is not None:
        stmt = stmt.where(ModelVersion.jurisdiction_code == jurisdiction)
    return [m for m in session.scalars(stmt) if can_view_model(caller, m)]


def promote(session: Session, caller: Caller, model_id: int) -> ModelVersion:
    """Make a version active for its jurisdiction: one the gate passed, or one that was active before."""
    model = get_version(session, caller, model_id)
    if not can_manage_model(caller, model):
        raise NotFound()
    if model.status == ModelStatus.ACTIVE:
        raise Conflict(code="model_already_active")
    if (
        not (model.gate.get("promote") or model.promoted_at is not None)
        or model.params.get("format") != FORMAT
    ):
        raise Conflict(
            code="model_not_promotable", detail=("该版本未通过晋升检验", "the gate did not pass this version")
        )
    _activate(session, model, promoted_by=caller.id)
    return model


def roll_back(session: Session, caller: Caller, jurisdiction: str | None) -> ModelVersion | None:
    """Retire the jurisdiction's active version and re-activate the one active before it (None: default)."""
    code = model_jurisdiction(caller, jurisdiction)
    current = session.scalar(
        select(ModelVersion).where(
            ModelVersion.jurisdiction_code == code, ModelVersion.status == ModelStatus.ACTIVE
        )
    )
    if current is None:
        raise Conflict(code="no_active_model")
    current.status = ModelStatus.RETIRED
    previous = session.scalar(
        select(ModelVersion)
        .where(
            ModelVersion.jurisdiction_code == code,
            ModelVersion.status == ModelStatus.RETIRED,
            ModelVersion.promoted_at.is_not(None),
            ModelVersion.id != current.id,
            ModelVersion.promoted_at < current.promoted_at,
        )
        .order_by(ModelVersion.promoted_at.desc())
        .limit(1)
    )
    session.flush()
    if previous is not None and previous.params.get("format") == FORMAT:
        # Keep its original promotion time, so a second rollback goes further back, not forth again.
        _activate(session, previous, promoted_by=caller.id, restamp=False)
        return previous
    return None


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def run_retrain_job(ctx: JobContext) -> None:
    """The job form of retrain: ref_id is the requesting account, whose jurisdiction the model is for."""
    with ctx.sessions.begin() as s:
        account = s.get(Account, ctx.ref_id) if ctx.ref_id else None
        jurisdiction = model_jurisdiction(Caller.of(account)) if account is not None else ""
        retrain(s, trained_by=account.id if account is not None else None, jurisdiction=jurisdiction)
