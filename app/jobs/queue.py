"""A job queue in the database: enqueue, claim under a lease, heartbeat, finish, recover crashes.

On PostgreSQL a claim is `SELECT ... FOR UPDATE SKIP LOCKED`, so workers on many machines never take
the same job; on SQLite the write lock taken at BEGIN serialises claims the same way.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from app.db import utcnow
from app.models import Job


def enqueue(session: Session, *, kind: str, ref_id: int, max_attempts: int = 3) -> Job:
    """Add a job; it runs after the surrounding transaction commits."""
    job = Job(kind=kind, ref_id=ref_id, max_attempts=max_attempts)
    session.add(job)
    session.flush()
    return job


def claim_next(
    session: Session, *, worker_id: str, lease_seconds: int, kinds: tuple[str, ...] | None = None
) -> Job | None:
    """Take the oldest runnable job, or one whose worker died (lease expired); None when idle."""
    now = utcnow()
    runnable = or_(
        (Job.status == "queued") & (Job.run_after <= now),
        (Job.status == "running") & (Job.lease_until < now),
    )
    stmt = select(Job).where(runnable).order_by(Job.id).limit(1).with_for_update(skip_locked=True)
    if kinds:
        stmt = stmt.where(Job.kind.in_(kinds))
    job = session.scalar(stmt)
    if job is None:
        return None
    if job.attempts >= job.max_attempts:
        # It crashed its worker every time: stop retrying and say so.
        job.status = "failed"
        job.last_error = (job.last_error or "") + "\nabandoned: lease expired on the last attempt"
        job.finished_at = now
        session.flush()
        return None
    job.status = "running"
    job.locked_by = worker_id
    job.attempts += 1
    job.lease_until = now + timedelta(seconds=lease_seconds)
    session.flush()
    return job


def heartbeat(session: Session, *, job_id: int, worker_id: str, lease_seconds: int) -> bool:
    """Extend the lease; False means another worker took the job over (stop working on it)."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.locked_by == worker_id, Job.status == "running")
        .values(lease_until=utcnow() + timedelta(seconds=lease_seconds))
    )
    return result.rowcount == 1


def finish(session: Session, *, job_id: int, worker_id: str, error: str | None = None) -> None:
    """Mark the job done, or failed / queued for retry when it raised."""
    job = session.get(Job, job_id)
    if job is None or job.locked_by != worker_id:
        return
    if error is None:
        job.status = "done"
        job.finished_at = utcnow()
    elif job.attempts < job.max_attempts:
        job.status = "queued"
        job.last_error = error
        job.run_after = utcnow() + timedelta(seconds=2**job.attempts)
    else:
        job.status = "failed"
        job.last_error = error
        job.finished_at = utcnow()
    job.lease_until = None
    session.flush()


def recent_jobs(session: Session, *, limit: int) -> list[Job]:
    """The newest jobs, with their status and last error, for the admin's jobs page."""
    return list(session.scalars(select(Job).order_by(Job.id.desc()).limit(limit)))
