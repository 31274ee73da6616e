"""A committed private database with the demo population, for tests that run real worker threads.

The test client's database lives in one connection's transaction, which a second thread cannot share;
these tests need commits that every thread (a worker, a Dask driver, the test) sees at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from app.db import make_engine, make_sessionmaker
from app.models import Job, MatchingRun
from app.models.jobs import JobStatus
from app.models.matches import ACTIVE_RUN, RunStatus
from app.seed.demo import seed_demo
from tests.live import private_database


@contextmanager
def demo_sessions(database_url: str, folder: Path, *, seed: int) -> Iterator[sessionmaker[Session]]:
    """Sessions on a migrated private database holding 150 demo mentors and 1,000 newcomers."""
    with private_database(database_url, folder) as url:
        engine = make_engine(url)
        factory = make_sessionmaker(engine)
        with factory.begin() as session:
            seed_demo(session, mentors=150, newcomers=1000, seed=seed)
        try:
            yield factory
        finally:
            engine.dispose()


def end_active_runs(sessions: sessionmaker[Session]) -> None:
    """Fail what a failed test left active, or every later test's scope overlaps it (409)."""
    with sessions.begin() as s:
        s.execute(
            update(MatchingRun).where(MatchingRun.status.in_(ACTIVE_RUN)).values(status=RunStatus.FAILED)
        )
        s.execute(
            update(Job)
            .where(Job.kind == "matching_run", Job.status.in_((JobStatus.QUEUED, JobStatus.RUNNING)))
            .values(status=JobStatus.FAILED)
        )
