"""Test database built by the migrations (never create_all), one rolled-back transaction per test.

SQLite by default; PostgreSQL when JIEDUAN_TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import settings as hypothesis_settings
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from app.auth.passwords import hash_password
from app.auth.tokens import issue_access_token
from app.config import Settings
from app.db import make_engine, with_search_path
from app.main import create_app
from app.migrations import upgrade
from app.models import Account
from app.profiles.schemas import MENTOR_EXAMPLE, NEWCOMER_EXAMPLE
from app.reference import load_reference_data

# Fixtures of the matching workflow (a seeded population, proposals, a worker), shared by runs/,
# proposals/, matches/ and the end-to-end test.
# The Dask LocalCluster (one per session) for the distributed matching and run tests.
pytest_plugins = ("tests.pairs", "tests.dask_cluster")

TEST_PASSWORD = "correct horse battery"

# Hypothesis' per-example deadline is a wall-time assertion: on a loaded 2-core machine it fails at random.
hypothesis_settings.register_profile("jieduan", deadline=None)
hypothesis_settings.load_profile("jieduan")


def _worker_schema() -> str:
    """The PostgreSQL schema of this test process: `public`, or one per pytest-xdist worker."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return f"xdist_{worker}" if worker else "public"


def _database_url(tmp: Path) -> str:
    base = os.environ.get("JIEDUAN_TEST_DATABASE_URL")
    if not base:
        return f"sqlite:///{tmp / 'test.db'}"
    schema = _worker_schema()
    if schema == "public":
        return base
    # Parallel workers share the database, so each builds its own schema instead of dropping public.
    return with_search_path(base, schema)


def reset_postgres(engine: Engine) -> None:
    """Drop everything so the migrations build the schema from nothing."""
    schema = _worker_schema()
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _database_url(tmp_path_factory.mktemp("db"))


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(
        env="test",
        database_url=database_url,
        secret_key="test-secret-key-0123456789abcdef",
        run_worker=False,
        log_level="WARNING",
    )


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings.database_url)
    if engine.dialect.name == "postgresql":
        reset_postgres(engine)
    upgrade(settings.database_url)
    with Session(engine) as session:
        load_reference_data(session)
        session.commit()
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    conn = engine.connect()
    outer = conn.begin()
    yield conn
    outer.rollback()
    conn.close()


@pytest.fixture
def session_factory(connection: Connection) -> sessionmaker[Session]:
    # Each request's commit releases a SAVEPOINT; the outer transaction is rolled back after the test.
    return sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False, autoflush=False
    )


@pytest.fixture
def db(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    session = session_factory()
    yield session
    session.close()


@pytest.fixture
def app(settings: Settings, engine: Engine, session_factory: sessionmaker[Session]):  # type: ignore[no-untyped-def]
    application = create_app(settings, engine=engine)
    application.state.sessionmaker = session_factory
    return application


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="session")
def password_hash() -> str:
    return hash_password(TEST_PASSWORD)


@dataclass
class User:
    """A test account with ready-made auth headers."""

    id: int
    username: str
    role: str
    jurisdiction: str | None
    headers: dict[str, str]


@pytest.fixture
def make_user(db: Session, settings: Settings, password_hash: str) -> Callable[..., User]:
    counter = iter(range(1, 10_000))

    def _make(role: str, jurisdiction: str | None = None, *, username: str | None = None) -> User:
        n = next(counter)
        name = username or (f"1390{n:07d}" if role in ("mentor", "newcomer") else f"{role}-{n}")
        account = Account(
            username=name,
            password_hash=password_hash,
            role=role,
            display_name=name,
            jurisdiction_code=jurisdiction,
            phone=name if role in ("mentor", "newcomer") else None,
        )
        db.add(account)
        db.commit()
        token = issue_access_token(
            settings, account_id=account.id, role=role, jurisdiction=jurisdiction, generation=0
        )
        return User(account.id, name, role, jurisdiction, {"Authorization": f"Bearer {token}"})

    return _make


# Real places used across the tests.
JIANGSU, SUQIAN, SHUYANG, ZHAXIA = "32", "3213", "321322", "321322115"
SHANDONG, CAOXIAN, DAJI = "37", "371721", "371721121"
YUNNAN = "53"


def walk_pages(
    client: TestClient, path: str, params: dict[str, object], headers: dict[str, str]
) -> Iterator[tuple[str | None, dict[str, object]]]:
    """(cursor asked with, body) of every page of a listing, first to last; each answer must be a 200."""
    cursor: str | None = None
    while True:
        r = client.get(path, params={**params, **({"cursor": cursor} if cursor else {})}, headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        yield cursor, body
        cursor = body["next_cursor"]
        if cursor is None:
            return


def mentor_payload(**overrides: object) -> dict[str, object]:
    """A valid mentor body: the API document's example, a flower cooperative in Zhaxia, Shuyang."""
    return {**copy.deepcopy(MENTOR_EXAMPLE), **overrides}


def newcomer_payload(**overrides: object) -> dict[str, object]:
    """A valid newcomer body: the API document's example, a tea grower in Daji, Caoxian."""
    return {**copy.deepcopy(NEWCOMER_EXAMPLE), "languages": ["mandarin"], **overrides}
