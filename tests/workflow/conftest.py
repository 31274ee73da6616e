"""Workflow fixtures: a seeded population and a worker that drains the job queue in-process."""

from __future__ import annotations

import pytest

from app.jobs.handlers import HANDLERS
from app.jobs.worker import Worker
from app.seed.demo import seed_demo


@pytest.fixture
def seeded(db):
    return seed_demo(db, mentors=150, newcomers=1000, seed=3)


@pytest.fixture
def drain(session_factory):
    worker = Worker(session_factory, HANDLERS, name="test-worker")
    return worker.run_until_idle
