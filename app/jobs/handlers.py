"""Which function runs which kind of job."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from app.imports.jobs import run_roster_import
from app.jobs.worker import Handler, Periodic
from app.matches.commitments import sweep_overdue
from app.ranker.service import run_retrain_job
from app.runs.service import execute_run

HANDLERS: dict[str, Handler] = {
    "roster_import": run_roster_import,
    "matching_run": execute_run,
    "retrain": run_retrain_job,
}


def run_overdue_sweep(sessions: sessionmaker[Session]) -> object:
    """Flag overdue check-ins and send due reminders (idempotent: notifications are deduplicated)."""
    with sessions.begin() as session:
        return sweep_overdue(session)


PERIODIC: tuple[Periodic, ...] = ((600.0, run_overdue_sweep),)
