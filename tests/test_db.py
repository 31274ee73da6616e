"""Database plumbing: the read-only hint reaches sync handlers; SQLite writers queue fairly."""

from __future__ import annotations

import threading
import time

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from app import db as dbmod
from app.middleware import ConcurrencyLimitMiddleware


def test_read_only_hint_follows_the_method_into_the_thread_pool():
    app = FastAPI()

    @app.get("/probe")
    def probe_get() -> bool:
        return dbmod._read_only.get()

    @app.post("/probe")
    def probe_post() -> bool:
        return dbmod._read_only.get()

    app.add_middleware(ConcurrencyLimitMiddleware, limit=2)
    with TestClient(app) as client:
        assert client.get("/probe").json() is True
        assert client.post("/probe").json() is False


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
