"""A cancel racing a run's last write, on a committed database with a real worker thread.

The run's final transaction proves its lease on the job's row; the cancel changes that row first. So
whichever commits first wins, and a run ends done with its proposals or cancelled with none, never
both, whatever the moment of the cancel.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.access import Caller
from app.config import Settings
from app.errors import Conflict
from app.jobs.handlers import HANDLERS
from app.jobs.worker import Worker
from app.models import Account, Job, Match, MatchingRun
from app.runs.schemas import RunCreate
from app.runs.service import cancel_run, create_run
from tests.runs.demo_db import demo_sessions, end_active_runs


@pytest.fixture(scope="module")
def sessions(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[sessionmaker[Session]]:
    with demo_sessions(database_url, tmp_path_factory.mktemp("cancel"), seed=5) as factory:
        yield factory


@pytest.fixture(autouse=True)
def _no_run_left_active(sessions: sessionmaker[Session]) -> Iterator[None]:
    yield
    end_active_runs(sessions)


def _admin(s: Session) -> Caller:
    account = s.scalar(select(Account).where(Account.username == "admin"))
    assert account is not None
    return Caller.of(account)


@pytest.mark.parametrize("delay", [0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.45, 0.7, 1.0])
def test_a_cancel_racing_the_end_of_a_run_leaves_it_done_or_cancelled_never_both(
    sessions: sessionmaker[Session], delay: float
) -> None:
    with sessions.begin() as s:
        run_id = create_run(s, _admin(s), RunCreate(scope_code="37", k=3)).id
    url = str(sessions.kw["bind"].url.render_as_string(hide_password=False))
    settings = Settings(
        env="test", database_url=url, secret_key="race-secret-key-0123456789abcdef", run_worker=False
    )
    worker = Worker(sessions, HANDLERS, settings=settings, heartbeat_seconds=0.2, name="racing-worker")
    runner = threading.Thread(target=worker.run_once, daemon=True)
    runner.start()
    time.sleep(delay)
    try:
        with sessions.begin() as s:
            cancel_run(s, _admin(s), run_id)
        cancelled = True
    except Conflict as exc:
        assert exc.code == "run_finished"
        cancelled = False
    runner.join(120)
    assert not runner.is_alive()
    with sessions() as s:
        run = s.get(MatchingRun, run_id)
        job = s.scalar(select(Job).where(Job.kind == "matching_run", Job.ref_id == run_id))
        written = s.scalar(select(func.count()).select_from(Match).where(Match.run_id == run_id))
        assert run is not None and job is not None
        if cancelled:
            assert (run.status, job.status, written) == ("cancelled", "cancelled", 0)
        else:
            assert (run.status, job.status) == ("done", "done") and written
