"""Engine, session factory and the declarative base with a naming convention."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import JSON, DateTime, MetaData, TypeDecorator, create_engine, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

# Stable constraint names make Alembic autogenerate and downgrades deterministic on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    """Timezone-aware now, the only clock the service uses."""
    return datetime.now(UTC)


# China Standard Time, UTC+8 all year (no daylight saving since 1991): a fixed offset needs no tz database.
CHINA_TZ = timezone(timedelta(hours=8), "CST")
# No day the service records or reports lies before this: an earlier one is a typo (0001-01-01).
EARLIEST_DAY = date(2000, 1, 1)


def china_today(now: datetime | None = None) -> date:
    """The calendar day in China: due dates and "today" for check-ins and reminders are Beijing days."""
    return (now or utcnow()).astimezone(CHINA_TZ).date()


def china_midnight(day: date) -> datetime:
    """The instant a China day begins: ranges of China days end at the next day's Beijing midnight."""
    return datetime.combine(day, time(), tzinfo=CHINA_TZ)


# Set for requests that only read (GET, HEAD): on SQLite they need no write lock, so they run beside a writer.
_read_only: ContextVar[bool] = ContextVar("jieduan_read_only", default=False)


@contextmanager
def read_only_transactions() -> Iterator[None]:
    """Mark transactions begun inside this block read-only (SQLite enforces it; PostgreSQL ignores it)."""
    token = _read_only.set(True)
    try:
        yield
    finally:
        _read_only.reset(token)


@contextmanager
def writes_allowed() -> Iterator[None]:
    """Inside a read-only request, transactions begun in this block may write: for the rare GET that
    must count something (the public verification's rate limit), in its own short transaction."""
    token = _read_only.set(False)
    try:
        yield
    finally:
        _read_only.reset(token)


def _configure_sqlite(engine: Engine) -> None:
    """Foreign keys on, WAL, a busy timeout, and transactions SQLAlchemy controls (for SAVEPOINT).

    Writers queue on an in-process lock before BEGIN IMMEDIATE: SQLite's own busy handler polls with
    back-off, which lets some waiters starve for seconds; a lock wakes them in turn. Read-only
    transactions take neither: a deferred BEGIN reads a WAL snapshot beside the writer. They run with
    `PRAGMA query_only`, so a read-only request that tries to write fails at once and visibly instead of
    upgrading to the file's write lock behind the queue (or failing later, only under contention).
    """
    write_lock = threading.Lock()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself: pysqlite's implicit transactions break SAVEPOINT.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if _read_only.get():
            # On the DBAPI cursor: two fixed commands need no result objects (every GET pays them).
            cursor = conn.connection.cursor()
            try:
                cursor.execute("PRAGMA query_only=ON")
                cursor.execute("BEGIN")
            finally:
                cursor.close()
            return
        if not write_lock.acquire(timeout=30):
            raise TimeoutError("timed out waiting for the SQLite write lock")
        conn.info["jieduan_write_lock"] = True
        try:
            # A pooled connection may come from a read-only request: writes are allowed again here.
            conn.exec_driver_sql("PRAGMA query_only=OFF")
            # IMMEDIATE takes the file's write lock up front, so two writers queue instead of deadlocking.
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _release(conn)
            raise

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _release(conn: Any) -> None:
        if conn.info.pop("jieduan_write_lock", False):
            write_lock.release()


def _json_loads(text: str | bytes) -> Any:
    """JSON columns decoded by orjson (several times faster than the json module on list pages).

    What orjson refuses and json accepts (NaN, integers over 64 bits) still decodes as before.
    """
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine configured for SQLite or PostgreSQL."""
    kwargs.setdefault("json_deserializer", _json_loads)
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=20,
            max_overflow=20,
            **kwargs,
        )
        _configure_sqlite(engine)
        return engine
    # Defaults that a caller (a test, a benchmark) may override.
    return create_engine(url, **{"pool_pre_ping": True, "pool_size": 20, "max_overflow": 20, **kwargs})


def with_search_path(url: str, schema: str) -> str:
    """The PostgreSQL URL whose connections use `schema` (any earlier search_path option is replaced).

    Tests and benchmarks use it for private schemas on one shared database.
    """
    options = {"options": f"-csearch_path={schema}"}
    return make_url(url).update_query_dict(options).render_as_string(hide_password=False)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (responses are built after it)."""
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Yield a session that commits on success and rolls back on error; the one transaction owner."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on both databases (SQLite drops the offset on its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# JSON everywhere; JSONB on PostgreSQL so documents can be indexed later.
JSONDoc = JSON().with_variant(JSONB(), "postgresql")
