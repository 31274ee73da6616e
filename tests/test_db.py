"""Database plumbing: the read-only hint reaches sync handlers; SQLite writers queue fairly, readers never."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from app import db as dbmod
from app.middleware import FrontMiddleware


@pytest.mark.parametrize("path", ["/probe", "/readyz"])
def test_read_only_hint_follows_the_method_into_the_thread_pool(path):
    app = FastAPI()

    @app.get(path)
    def probe_get() -> bool:
        return dbmod._read_only.get()

    @app.post(path)
    def probe_post() -> bool:
        return dbmod._read_only.get()

    # Probes skip the admission limit, but not the hint: /readyz took the write lock before.
    app.add_middleware(FrontMiddleware, limit=2, write_limit=1, body_limit=1024)
    with TestClient(app) as client:
        assert client.get(path).json() is True
        assert client.post(path).json() is False


def test_a_read_only_transaction_cannot_write_and_its_connection_writes_again_later(tmp_path):
    engine = dbmod.make_engine(f"sqlite:///{tmp_path / 'ro.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    with dbmod.read_only_transactions(), engine.connect() as conn:
        used = conn.connection.dbapi_connection
        # Refused at once, rather than upgrading to the write lock behind the writers' queue.
        with pytest.raises(OperationalError, match="readonly"):
            conn.execute(text("INSERT INTO t VALUES (1)"))
    # The pool holds only that connection, so the writer gets it: writes are allowed again.
    with engine.begin() as conn:
        assert conn.connection.dbapi_connection is used
        conn.execute(text("INSERT INTO t VALUES (2)"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT x FROM t")).scalars().all() == [2]
    engine.dispose()


def test_sqlite_writers_queue_and_readers_do_not(tmp_path):
    engine = dbmod.make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (0)"))
    barrier = threading.Barrier(30)
    errors: list[Exception] = []

    def write() -> None:
        barrier.wait()
        try:
            with engine.begin() as conn:
                value = conn.execute(text("SELECT x FROM t")).scalar_one()
                time.sleep(0.002)  # read-modify-write: lost updates would show if writers overlapped
                conn.execute(text("UPDATE t SET x = :v"), {"v": value + 1})
        except Exception as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(30)]
    for t in threads:
        t.start()
    # A reader is not blocked by the queue of writers.
    with dbmod.read_only_transactions(), engine.connect() as conn:
        conn.execute(text("SELECT x FROM t")).scalar_one()
    for t in threads:
        t.join()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT x FROM t")).scalar_one() == 30
    assert errors == []
    engine.dispose()
