"""A job queue in the database: enqueue, claim under a lease, heartbeat, release, finish, recover crashes.

On PostgreSQL a claim is `SELECT ... FOR UPDATE SKIP LOCKED`, so workers on many machines never take
the same job; on SQLite the write lock taken at BEGIN serialises claims the same way.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from app.db import utcnow
from app.models import Job
from app.models.jobs import JobStatus
from app.observability.logs import current_request_id

# Called in the transaction that marks a job failed for good, so the object it works on (an import,
# a matching run) ends `failed` with the same reason on every path, a lapsed lease included.
FailureHook = Callable[[Session, Job], None]

ABANDONED = "abandoned: the worker stopped answering (lease expired) on the last attempt"


def enqueue(
    session: Session, *, kind: str, ref_id: int, max_attempts: int = 3, run_after: datetime | None = None
) -> Job:
    """Add a job; it runs after the surrounding transaction commits (and not before `run_after`)."""
    # The request that queued it: the job's log lines carry the same id.
    job = Job(kind=kind, ref_id=ref_id, max_attempts=max_attempts, request_id=current_request_id())
    if run_after is not None:
        job.run_after = run_after
    session.add(job)
    session.flush()
    return job


def claim_next(
    session: Session,
    *,
    worker_id: str,
    lease_seconds: float,
    kinds: tuple[str, ...] | None = None,
    on_failed: FailureHook | None = None,
) -> Job | None:
    """Take the oldest runnable job, or one whose worker died (lease expired); None when idle."""
    while True:
        now = utcnow()
        runnable = or_(
            (Job.status == JobStatus.QUEUED) & (Job.run_after <= now),
            (Job.status == JobStatus.RUNNING) & (Job.lease_until < now),
        )
        stmt = select(Job).where(runnable).order_by(Job.id).limit(1).with_for_update(skip_locked=True)
        if kinds:
            stmt = stmt.where(Job.kind.in_(kinds))
        job = session.scalar(stmt)
        if job is None:
            return None
        if job.attempts < job.max_attempts:
            break
        # It lost its worker on every attempt: stop retrying, say so, and look at the next job.
        _mark_failed(session, job, ((job.last_error or "") + "\n" + ABANDONED).strip(), on_failed)
    job.status = JobStatus.RUNNING
    job.locked_by = worker_id
    job.attempts += 1
    job.lease_until = now + timedelta(seconds=lease_seconds)
    session.flush()
    return job


def heartbeat(session: Session, *, job_id: int, worker_id: str, lease_seconds: float) -> bool:
    """Extend the lease; False means another worker took the job over (stop working on it)."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.locked_by == worker_id, Job.status == JobStatus.RUNNING)
        .values(lease_until=utcnow() + timedelta(seconds=lease_seconds))
    )
    return result.rowcount == 1


def release(session: Session, *, job_id: int, worker_id: str) -> bool:
    """Give a running job back to the queue at once (graceful shutdown); the cut-short try is not counted."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.locked_by == worker_id, Job.status == JobStatus.RUNNING)
        .values(
            status=JobStatus.QUEUED,
            locked_by=None,
            lease_until=None,
            run_after=utcnow(),
            attempts=Job.attempts - 1,
        )
    )
    return result.rowcount == 1


def cancel(session: Session, *, kind: str, ref_id: int, reason: str) -> int:
    """Cancel the unfinished jobs of one object; returns how many there were.

    A running job's worker finds out at its next lease check (`heartbeat` wants the job running) and
    stops without writing. On PostgreSQL this UPDATE waits for a worker's write transaction that holds
    the job's row, so the job either committed its result before or commits nothing after.
    """
    result = session.execute(
        update(Job)
        .where(Job.kind == kind, Job.ref_id == ref_id, Job.status.in_((JobStatus.QUEUED, JobStatus.RUNNING)))
        .values(status=JobStatus.CANCELLED, last_error=reason, finished_at=utcnow(), lease_until=None)
    )
    return result.rowcount


def finish(
    session: Session,
    *,
    job_id: int,
    worker_id: str,
    error: str | None = None,
    on_failed: FailureHook | None = None,
) -> None:
    """Mark the job done, or failed / queued for retry when it raised."""
    job = session.get(Job, job_id)
    if job is None or job.locked_by != worker_id or job.status != JobStatus.RUNNING:
        return
    if error is None:
        job.status = JobStatus.DONE
        job.finished_at = utcnow()
    elif job.attempts < job.max_attempts:
        job.status = JobStatus.QUEUED
        job.last_error = error
        job.run_after = utcnow() + timedelta(seconds=2**job.attempts)
    else:
        _mark_failed(session, job, error, on_failed)
    job.lease_until = None
    session.flush()


def _mark_failed(session: Session, job: Job, error: str, on_failed: FailureHook | None) -> None:
    job.status = JobStatus.FAILED
    job.last_error = error
    job.finished_at = utcnow()
    job.lease_until = None
    session.flush()
    if on_failed is not None:
        on_failed(session, job)


class ShownError(Exception):
    """A job failure whose message is written for the job's readers: shown to them as it is.

    Any other exception's text is for the log only: a driver's or a cluster's message can hold SQL,
    values from the rows, or the addresses of internal machines.
    """


def shown_reason(exc: BaseException) -> str:
    """The line a job's readers see for a failure (the job's own API, a run's or an import's error)."""
    if isinstance(exc, ShownError):
        return " ".join(f"{type(exc).__name__}: {exc}".split())[:500]
    return f"{type(exc).__name__}: the job stopped on an internal error (the server's log has the details)"


def stored_error(exc: BaseException) -> str:
    """What a failed attempt stores: the traceback for operators, then the line shown to readers."""
    return f"{traceback.format_exc(limit=20).rstrip()}\n{shown_reason(exc)}"


def reason_of(error: str | None) -> str:
    """The last line of a stored error (`stored_error`): what a user can read (the trace stays on the job)."""
    lines = [line for line in (error or "").strip().splitlines() if line.strip()]
    return lines[-1].strip()[:500] if lines else "unknown error"


def recent_jobs(session: Session, *, limit: int) -> list[Job]:
    """The newest jobs, with their status and last error, for the admin's jobs page."""
    return list(session.scalars(select(Job).order_by(Job.id.desc()).limit(limit)))
