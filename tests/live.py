"""A private, committed database and a real uvicorn server on loopback, for tests that need both."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import make_engine, with_search_path
from app.main import create_app
from app.migrations import upgrade
from app.reference import load_reference_data


@contextmanager
def private_database(base_url: str, tmp: Path) -> Iterator[str]:
    """A migrated database with reference data, used by nothing else: a SQLite file or a PostgreSQL schema."""
    if base_url.startswith("postgresql"):
        schema = f"live_{uuid.uuid4().hex[:8]}"
        admin = create_engine(base_url)
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        url = with_search_path(base_url, schema)
    else:
        admin, schema, url = None, None, f"sqlite:///{tmp / 'live.db'}"
    try:
        upgrade(url)
        engine = make_engine(url)
        with Session(engine) as session:
            load_reference_data(session)
            session.commit()
        engine.dispose()
        yield url
    finally:
        if admin is not None:
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            admin.dispose()


@contextmanager
def live_server(settings: Settings, app: Any = None) -> Iterator[str]:
    """Serve the app (or one built from the settings) with uvicorn in a thread; yields its base URL."""
    config = uvicorn.Config(app or create_app(settings), host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("server did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def wait_ok(url: str) -> None:
    """Block until the server answers /healthz."""
    for _ in range(100):
        try:
            # A guard, not a speed check: httpx's 5 s default was exceeded once on a busy machine.
            if httpx.get(f"{url}/healthz", timeout=60).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
