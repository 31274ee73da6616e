"""The database job queue: claims, leases, retries, crash recovery."""

from __future__ import annotations

from datetime import timedelta

from app.db import utcnow
from app.jobs import queue
from app.jobs.worker import JobContext, Worker
from app.models import Job


def test_claim_runs_oldest_and_finishes(db, session_factory):
    first = queue.enqueue(db, kind="demo", ref_id=1)
    queue.enqueue(db, kind="demo", ref_id=2)
    db.commit()
    seen: list[int] = []

    def handler(ctx: JobContext) -> None:
        assert ctx.beat() is True
        seen.append(ctx.ref_id)

    worker = Worker(session_factory, {"demo": handler}, name="w1")
    assert worker.run_until_idle() == 2
    assert seen == [1, 2]
    db.expire_all()
    assert db.get(Job, first.id).status == "done"
    assert worker.run_once() is False


def test_failure_is_retried_then_marked_failed(db, session_factory):
    job = queue.enqueue(db, kind="demo", ref_id=1, max_attempts=2)
    db.commit()

    def boom(ctx: JobContext) -> None:
        raise RuntimeError("bad input")

    worker = Worker(session_factory, {"demo": boom}, name="w1")
    assert worker.run_once() is True
    db.expire_all()
    row = db.get(Job, job.id)
    assert row.status == "queued" and "bad input" in row.last_error and row.run_after > utcnow()
    row.run_after = utcnow() - timedelta(seconds=1)  # skip the back-off
    db.commit()
    assert worker.run_once() is True
    db.expire_all()
    assert db.get(Job, job.id).status == "failed"


def test_crashed_worker_job_is_taken_over(db, session_factory):
    job = queue.enqueue(db, kind="demo", ref_id=9, max_attempts=3)
    db.commit()
    assert queue.claim_next(db, worker_id="dead", lease_seconds=60) is not None
    db.commit()
    # Nobody else may take it while the lease holds...
    assert queue.claim_next(db, worker_id="w2", lease_seconds=60) is None
    db.get(Job, job.id).lease_until = utcnow() - timedelta(seconds=1)
    db.commit()
    # ...and once the lease lapses, another worker takes it over and the dead one cannot heartbeat.
    taken = queue.claim_next(db, worker_id="w2", lease_seconds=60)
    assert taken is not None and taken.id == job.id and taken.attempts == 2
    db.commit()
    assert queue.heartbeat(db, job_id=job.id, worker_id="dead", lease_seconds=60) is False
    assert queue.heartbeat(db, job_id=job.id, worker_id="w2", lease_seconds=60) is True


def test_job_that_keeps_crashing_is_abandoned(db):
    job = queue.enqueue(db, kind="demo", ref_id=1, max_attempts=1)
    db.commit()
    queue.claim_next(db, worker_id="dead", lease_seconds=60)
    db.get(Job, job.id).lease_until = utcnow() - timedelta(seconds=1)
    db.commit()
    assert queue.claim_next(db, worker_id="w2", lease_seconds=60) is None
    row = db.get(Job, job.id)
    assert row.status == "failed" and "abandoned" in row.last_error
