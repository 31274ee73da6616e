"""Which function runs which kind of job, and how its object ends when the job fails for good."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.imports.jobs import mark_import_failed, run_roster_import
from app.jobs.queue import reason_of
from app.jobs.worker import JobKind, Periodic, Worker
from app.matches.commitments import sweep_overdue
from app.models import Job
from app.notifications.delivery import JOB_KIND as DELIVERY_JOB
from app.notifications.delivery import delivery_failed, run_delivery_job
from app.ranker.service import run_retrain_job
from app.retention import run_retention_sweep
from app.runs.service import execute_run, mark_run_failed


def _import_failed(session: Session, job: Job) -> None:
    mark_import_failed(session, import_id=job.ref_id, reason=reason_of(job.last_error))


def _run_failed(session: Session, job: Job) -> None:
    mark_run_failed(session, run_id=job.ref_id, reason=reason_of(job.last_error))


HANDLERS: dict[str, JobKind] = {
    "roster_import": JobKind(run_roster_import, _import_failed),
    "matching_run": JobKind(execute_run, _run_failed),
    # A retrain has no object of its own: the job row (GET /api/v1/jobs/{id}) carries its error.
    "retrain": JobKind(run_retrain_job),
    DELIVERY_JOB: JobKind(run_delivery_job, delivery_failed),
}


def run_overdue_sweep(sessions: sessionmaker[Session], settings: Settings) -> object:
    """Flag overdue check-ins and send due reminders (idempotent: notifications are deduplicated)."""
    with sessions.begin() as session:
        return sweep_overdue(session)


OVERDUE_SWEEP_SECONDS = 600.0


def periodic_tasks(settings: Settings) -> tuple[Periodic, ...]:
    """What every worker runs on a timer: the overdue sweep, and the retention sweep unless it is off."""
    tasks: list[Periodic] = [(OVERDUE_SWEEP_SECONDS, run_overdue_sweep)]
    if settings.retention_sweep_interval_seconds > 0:
        tasks.append((settings.retention_sweep_interval_seconds, run_retention_sweep))
    return tuple(tasks)


def make_worker(sessions: sessionmaker[Session], settings: Settings) -> Worker:
    """The worker the web process and `jieduan worker` run: every job kind and the periodic tasks."""
    return Worker(sessions, HANDLERS, settings=settings, periodic=periodic_tasks(settings))
