"""Job tests that need several threads or processes use a committed, private database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.models import Job
from tests.live import private_database


@pytest.fixture(scope="module")
def committed_url(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with private_database(database_url, tmp_path_factory.mktemp("jobs")) as url:
        yield url


@pytest.fixture
def committed(committed_url: str) -> Iterator[sessionmaker[Session]]:
    """A session factory whose commits other threads and processes see; jobs are emptied afterwards."""
    engine = make_engine(committed_url)
    sessions = make_sessionmaker(engine)
    yield sessions
    with sessions.begin() as session:
        session.execute(delete(Job))
    engine.dispose()


@pytest.fixture
def committed_settings(committed_url: str) -> Settings:
    return Settings(
        env="test",
        database_url=committed_url,
        secret_key="jobs-secret-key-0123456789abcdef",
        run_worker=False,
    )
