"""Matching runs: created by a coordinator, executed by a worker, writing proposals for review.

The run job owns its transactions (short ones for progress, one for the results), as jobs do.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session

from app.access import Caller
from app.access.regions import ancestors, under
from app.bulk import lock_for_transaction
from app.db import utcnow
from app.errors import Conflict, NotFound, Unprocessable
from app.jobs.queue import cancel as cancel_jobs
from app.jobs.queue import enqueue, shown_reason
from app.jobs.worker import JobContext, LeaseLost
from app.matches import adapter, reasons
from app.matches.states import supersede_pending
from app.models import Job, Match, MatchingRun, Newcomer, Region
from app.models.matches import ACTIVE_RUN, FINISHED_RUN, RunStatus
from app.pagination import Paged, desc, paginate
from app.ranker.service import active_model, load_ranker, usable_version
from app.runs.schemas import RunCreate
from matching import MentorTable, NewcomerTable, Policy, ProposalSet, evaluate, propose
from matching.stages import Reranker

log = logging.getLogger(__name__)
_CHUNK = 1_000


def _serialise_creation(session: Session) -> None:
    # Two coordinators creating overlapping runs at the same instant must not both pass the check.
    lock_for_transaction(session, 7201)


def check_scope(session: Session, caller: Caller, params: RunCreate) -> str:
    """The run's scope as stored (the empty prefix for the country): an existing region the caller covers."""
    scope = params.scope_code or ""
    if scope and session.get(Region, scope) is None:
        raise Unprocessable(code="region_not_found")
    if not caller.covers(scope):
        raise Unprocessable(code="region_outside_jurisdiction")
    return scope


def create_run(session: Session, caller: Caller, params: RunCreate) -> MatchingRun:
    """Queue a run over a scope inside the caller's jurisdiction; 409 while an overlapping one is active."""
    # No scope means the whole country, which only an admin covers; it is stored as the empty prefix.
    scope = check_scope(session, caller, params)
    params = params.model_copy(update={"scope_code": scope})
    _serialise_creation(session)
    overlapping = session.scalar(
        select(MatchingRun.id)
        .where(
            MatchingRun.status.in_(ACTIVE_RUN),
            # Overlap: one scope lies under the other (codes are hierarchical prefixes).
            or_(under(MatchingRun.scope_code, scope), MatchingRun.scope_code.in_(ancestors(scope))),
        )
        .limit(1)
    )
    if overlapping is not None:
        raise Conflict(
            code="run_in_progress",
            run_id=overlapping,
            detail=(
                f"范围重叠的匹配任务 {overlapping} 尚未结束",
                f"overlapping run {overlapping} is still active",
            ),
        )
    # A pinned version is used as is (a coordinator may try a candidate); otherwise the active version of
    # the scope's province, else the national one. Never simply the newest.
    model_id = None
    if params.model_version_id is not None:
        model_id = usable_version(session, caller, params.model_version_id).id
    elif params.use_learned_ranker:
        model = active_model(session, scope)
        if model is None:
            raise Unprocessable(
                code="no_trained_model", detail=("尚无已启用的模型", "no active ranker for this scope")
            )
        model_id = model.id
    run = MatchingRun(
        scope_code=scope, policy=params.model_dump(), created_by=caller.id, model_version_id=model_id
    )
    session.add(run)
    session.flush()
    enqueue(session, kind="matching_run", ref_id=run.id)
    return run


def get_run(session: Session, caller: Caller, run_id: int) -> MatchingRun:
    """A run inside the caller's jurisdiction, else 404."""
    run = session.get(MatchingRun, run_id)
    if run is None or not caller.covers(run.scope_code):
        raise NotFound()
    return run


def list_runs(session: Session, caller: Caller, *, cursor: str | None, limit: int) -> Paged[MatchingRun]:
    """Runs over regions inside the caller's jurisdiction, newest first, one keyset page."""
    stmt = select(MatchingRun).where(caller.scope(MatchingRun.scope_code))
    return paginate(session, stmt, [desc(MatchingRun.id)], cursor, limit)


def cancel_run(session: Session, caller: Caller, run_id: int) -> MatchingRun:
    """Cancel a queued or running run of the caller's jurisdiction: it writes no proposal after this.

    Its job is cancelled first (that waits for a result the job may be committing), then the run. A run
    cancelled already is returned as it is; a finished one is a 409.
    """
    run = get_run(session, caller, run_id)
    if run.status == RunStatus.CANCELLED:
        return run
    reason = f"cancelled by {caller.username}"
    cancel_jobs(session, kind="matching_run", ref_id=run.id, reason=reason)
    cancelled = session.execute(
        update(MatchingRun)
        .where(MatchingRun.id == run.id, MatchingRun.status.in_(ACTIVE_RUN))
        .values(status=RunStatus.CANCELLED, error_detail=reason, finished_at=utcnow())
    ).rowcount
    session.refresh(run)
    if not cancelled:
        raise Conflict(
            code="run_finished",
            run_status=run.status,
            detail=(
                f"匹配任务 {run.id} 已结束（{run.status}）",
                f"run {run.id} has already ended ({run.status})",
            ),
        )
    log.info("matching run %s cancelled by account %s", run.id, caller.id)
    return run


def _set(ctx: JobContext, run_id: int, **values: Any) -> None:
    # Every write of the job first proves it still holds the lease (LeaseLost rolls it back).
    with ctx.sessions.begin() as s:
        ctx.hold_lease(s)
        s.execute(update(MatchingRun).where(MatchingRun.id == run_id).values(**values))


def mark_run_failed(session: Session, *, run_id: int, reason: str) -> None:
    """End an unfinished run `failed` with the job's reason (its job failed for good)."""
    session.execute(
        update(MatchingRun)
        .where(MatchingRun.id == run_id, MatchingRun.status.not_in(FINISHED_RUN))
        .values(status=RunStatus.FAILED, error_detail=reason[:2000], finished_at=utcnow())
    )


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    """Plain JSON numbers; a rate without a denominator (no newcomer in scope: NaN) becomes null.

    PostgreSQL's JSONB refuses NaN (the run failed at its last write), and on SQLite the stored NaN made
    the run's JSON response fail.
    """
    plain = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in values.items()}
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in plain.items()}


def execute_run(ctx: JobContext) -> None:
    """The job: load, propose, then replace pending proposals of these newcomers in one transaction."""
    run_id = ctx.ref_id
    with ctx.sessions.begin() as s:
        run = s.get(MatchingRun, run_id)
        if run is None or run.status in (RunStatus.DONE, RunStatus.CANCELLED):
            return
        params, scope, model_id = RunCreate.from_policy(run.policy), run.scope_code, run.model_version_id
    _set(ctx, run_id, status=RunStatus.RUNNING, started_at=utcnow(), progress=0.05, error_detail=None)
    try:
        with ctx.sessions() as s:
            mentors = adapter.load_mentors(s)
            newcomers = adapter.load_newcomers(s, scope)
            excluded = adapter.excluded_pairs(s, newcomers.ids.tolist())
            ranker = load_ranker(s, model_id) if model_id else None
        _set(ctx, run_id, progress=0.3)
        policy = adapter.policy_of(params)
        proposals, cluster = _propose(ctx, run_id, mentors, newcomers, policy, ranker, excluded)
        evaluation = _jsonable(evaluate(proposals, mentors, newcomers))
        _set(ctx, run_id, progress=0.7)
        rows = adapter.proposal_rows(proposals, mentors, newcomers, run_id)
        with ctx.sessions.begin() as s:
            ctx.hold_lease(s)
            superseded = supersede_proposed(s, scope)
            proposed = len(rows)
            rows = adapter.still_open(s, scope, rows)
            for i in range(0, len(rows), _CHUNK):
                s.execute(insert(Match), rows[i : i + _CHUNK])
            s.execute(
                update(MatchingRun)
                .where(MatchingRun.id == run_id)
                .values(
                    status=RunStatus.DONE,
                    progress=1.0,
                    finished_at=utcnow(),
                    evaluation=evaluation,
                    counts={
                        "mentors": len(mentors),
                        "newcomers": len(newcomers),
                        "proposals": len(rows),
                        "superseded": superseded,
                        # Decided or changed while the run computed (adapter.still_open).
                        "dropped_stale": proposed - len(rows),
                        "excluded_pairs": len(excluded),
                        **({"cluster_workers": cluster["workers"]} if cluster else {}),
                    },
                )
            )
    except LeaseLost:
        raise  # another worker owns the run now: write nothing
    except Exception as exc:
        _end_attempt(ctx, run_id, shown_reason(exc))
        raise


def _end_attempt(ctx: JobContext, run_id: int, reason: str) -> None:
    """A failed attempt: the run fails only if its job will not be retried, else it is queued again.

    A run marked failed while its job waited for the retry let a coordinator start an overlapping run
    (a failed run is not active), and then the retry ran beside it over the same newcomers.
    """
    with ctx.sessions.begin() as s:
        ctx.hold_lease(s)
        job = s.get(Job, ctx.job_id)
        # The queue's own rule (queue.finish): another attempt while attempts < max_attempts.
        retried = job is not None and job.attempts < job.max_attempts
        values: dict[str, Any] = (
            {"status": RunStatus.QUEUED, "progress": 0.0}
            if retried
            else {"status": RunStatus.FAILED, "finished_at": utcnow()}
        )
        s.execute(
            update(MatchingRun).where(MatchingRun.id == run_id).values(error_detail=reason[:2000], **values)
        )


def _propose(
    ctx: JobContext,
    run_id: int,
    mentors: MentorTable,
    newcomers: NewcomerTable,
    policy: Policy,
    ranker: Reranker | None,
    excluded: list[tuple[int, int]],
) -> tuple[ProposalSet, dict[str, Any]]:
    """The run's proposals: in this process, or on the Dask cluster when JIEDUAN_DASK_SCHEDULER is set."""
    settings = ctx.settings
    # A run with nothing to search (no mentors, or no newcomer still looking) needs no cluster: an
    # unreachable one must not fail it.
    idle = len(mentors) == 0 or not bool((~newcomers.has_active_mentor).any())
    if not settings.dask_scheduler or idle:

        def stage_done(stage: str, done: int, total: int) -> None:
            # Progress between loading (0.3) and writing (0.7), and the in-process run's checkpoints: a
            # cancelled run (or a lost lease) stops at the next one.
            progress = 0.35 if stage == "index" else 0.35 + 0.2 * done / total
            _set(ctx, run_id, progress=round(progress, 4))

        proposals = propose(
            mentors,
            newcomers,
            policy,
            ranker=ranker,
            exclude_pairs=excluded,
            seed=run_id,
            arc_limit=settings.assign_arc_limit,
            on_stage=stage_done,
        )
        return proposals, {}
    # Dask loads only where a cluster is configured: web processes and the CLI never pay for its import.
    from app.runs.cluster import propose_on_cluster

    def progress(done: int, total: int) -> None:
        # Per shard, between loading (0.3) and writing (0.7); the write also proves the lease.
        _set(ctx, run_id, progress=round(0.3 + 0.4 * done / total, 4))

    return propose_on_cluster(
        settings,
        mentors,
        newcomers,
        policy,
        ranker=ranker,
        exclude_pairs=excluded,
        seed=run_id,
        on_progress=progress,
    )


def supersede_proposed(session: Session, scope: str) -> int:
    """Proposals still awaiting review for the scope's newcomers become superseded (audited)."""
    in_scope = select(Newcomer.id).where(under(Newcomer.region_code, scope))
    return supersede_pending(
        session, Match.newcomer_id.in_(in_scope), actor_id=None, reason=reasons.REPLACED_BY_RUN
    )
