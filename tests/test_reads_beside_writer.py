"""Read-only requests answer while a writer holds the lock, with a queue of blocked writers behind it.

On SQLite the writer holds the database's one write lock: through the app's own writer path (its
in-process lock and BEGIN IMMEDIATE), or from another process (a raw connection doing BEGIN IMMEDIATE,
as a `jieduan worker` would). On PostgreSQL it holds the mentor's row lock, which the queued PATCHes
wait for. Either way GETs and /readyz must complete while the lock is still held.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event, update
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from app.auth.tokens import issue_access_token
from app.config import Settings
from app.main import create_app
from app.models import Account, Mentor, MentorProduct
from tests.conftest import JIANGSU, ZHAXIA
from tests.live import live_server, private_database

# Small admission limits keep the test quick; the shape is the default's (24 admitted, 12 writing).
ADMITTED, WRITING = 6, 3
QUEUED_WRITERS = ADMITTED + 2  # more than are admitted: before the fix they took every slot
WAIT = 120.0  # generous: the reads finish in about a second; a loaded CI machine took over 30 s once


@pytest.fixture(scope="module")
def live(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with private_database(database_url, tmp_path_factory.mktemp("reads")) as url:
        settings = Settings(
            env="test",
            database_url=url,
            secret_key="live-secret-key-0123456789abcdef",
            run_worker=False,
            log_level="WARNING",
            max_concurrent_requests=ADMITTED,
            max_concurrent_writes=WRITING,
        )
        app = create_app(settings)
        engine: Engine = app.state.engine
        with Session(engine) as s:
            coordinator = Account(
                username="coord-reads",
                password_hash="x",
                role="coordinator",
                display_name="c",
                jurisdiction_code=JIANGSU,
            )
            mentor = Mentor(
                name="沭阳花木",
                kind="household",
                region_code=ZHAXIA,
                county_code=ZHAXIA[:6],
                capacity=3,
                resources_offered=[{"type": "logistics", "description": ""}],
                products=[MentorProduct(category_code="flowers.seedlings")],
            )
            admin = Account(username="admin-reads", password_hash="x", role="admin", display_name="a")
            s.add_all([coordinator, admin, mentor])
            s.commit()
            token = issue_access_token(
                settings, account_id=coordinator.id, role="coordinator", jurisdiction=JIANGSU, generation=0
            )
            admin_token = issue_access_token(
                settings, account_id=admin.id, role="admin", jurisdiction=None, generation=0
            )
            mentor_id = mentor.id
        checked_out = _Counter(engine)
        with live_server(settings, app) as base:
            yield {
                "url": url,
                "engine": engine,
                "base": base,
                "mentor_id": mentor_id,
                "checked_out": checked_out,
                "headers": {"Authorization": f"Bearer {token}"},
                "admin": {"Authorization": f"Bearer {admin_token}"},
            }


class _Counter:
    """Connections currently checked out of the app's pool: how many requests are inside a transaction."""

    def __init__(self, engine: Engine) -> None:
        self.value = 0
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        event.listen(engine, "checkout", lambda *_: self._add(1))
        event.listen(engine, "checkin", lambda *_: self._add(-1))

    def _add(self, n: int) -> None:
        with self._changed:
            self.value += n
            self._changed.notify_all()

    def wait_for(self, at_least: int, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self.value >= at_least, timeout)


@contextmanager
def _app_writer(live: dict[str, Any]) -> Iterator[None]:
    """Hold the lock through the app's own writer path: its engine, a transaction that wrote the mentor."""
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with live["engine"].begin() as conn:
            conn.execute(update(Mentor).where(Mentor.id == live["mentor_id"]).values(story="编辑中"))
            held.set()
            release.wait(120)

    thread = threading.Thread(target=hold)
    thread.start()
    assert held.wait(WAIT)
    try:
        yield
    finally:
        release.set()
        thread.join(WAIT)


@contextmanager
def _other_process_writer(live: dict[str, Any]) -> Iterator[None]:
    """Hold SQLite's write lock the way another process would: a raw connection in BEGIN IMMEDIATE."""
    conn = sqlite3.connect(make_url(live["url"]).database, isolation_level=None, check_same_thread=False)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


@pytest.mark.parametrize("holder", ["app", "other_process"])
def test_reads_answer_while_a_writer_holds_the_lock(live: dict[str, Any], holder: str) -> None:
    if holder == "other_process" and not live["url"].startswith("sqlite"):
        pytest.skip("a file lock held by another process is SQLite's case")
    base, headers, mentor_id = live["base"], live["headers"], live["mentor_id"]
    etag = httpx.get(f"{base}/api/v1/mentors/{mentor_id}", headers=headers, timeout=WAIT).headers["etag"]
    hold = _app_writer if holder == "app" else _other_process_writer
    writes: list[int] = []
    write_threads = []
    reads: dict[str, int] = {}
    reads_done = threading.Event()

    def write(i: int) -> None:
        with httpx.Client(base_url=base, timeout=120) as client:
            response = client.patch(
                f"/api/v1/mentors/{mentor_id}",
                json={"story": f"第{i}版"},
                headers={**live["admin"], "If-Match": etag},
            )
            writes.append(response.status_code)

    def read() -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=WAIT) as client:
            for path in (
                "/readyz",
                "/api/v1/mentors",
                f"/api/v1/mentors/{mentor_id}",
                "/api/v1/proposals?status=proposed",
            ):
                reads[path] = client.get(path).status_code
        reads_done.set()

    with hold(live):
        idle = live["checked_out"].value
        for i in range(QUEUED_WRITERS):
            thread = threading.Thread(target=write, args=(i,))
            thread.start()
            write_threads.append(thread)
        # The writers are inside: authenticated, each holding a connection, all blocked on the lock.
        assert live["checked_out"].wait_for(idle + WRITING, WAIT)
        threading.Thread(target=read, daemon=True).start()
        completed_while_held = reads_done.wait(WAIT)
        answered_while_held = dict(reads)
    for thread in write_threads:
        thread.join(120)

    assert completed_while_held, f"reads still waiting while the writer held the lock: {answered_while_held}"
    assert answered_while_held == dict.fromkeys(answered_while_held, 200) and len(answered_while_held) == 4
    # Released, the queued writers went through one after another: no 5xx among them.
    assert len(writes) == QUEUED_WRITERS and all(code in (200, 412) for code in writes), writes


def test_every_get_route_answers_while_a_writer_holds_the_lock(live: dict[str, Any]) -> None:
    """No GET handler may begin a write: each would queue for the lock (or, read-only, fail at once)."""
    base, mentor_id = live["base"], live["mentor_id"]
    paths = [
        path
        for path, operations in httpx.get(f"{base}/openapi.json", timeout=WAIT).json()["paths"].items()
        if "get" in operations
    ]
    values = {"profile_id": str(mentor_id), "code": "321322", "report": "reach"}
    urls = [re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "999999"), p) for p in paths]
    answers: dict[str, int] = {}
    done = threading.Event()

    def read() -> None:
        with httpx.Client(base_url=base, headers=live["admin"], timeout=WAIT) as client:
            for url in [*urls, "/console/login"]:
                answers[url] = client.get(url).status_code
        done.set()

    with _app_writer(live):
        threading.Thread(target=read, daemon=True).start()
        completed_while_held = done.wait(WAIT)
        answered_while_held = dict(answers)
    assert completed_while_held, f"stuck after {len(answered_while_held)} of {len(urls) + 1} routes"
    assert len(urls) > 40  # the whole API, not a handful
    assert {url: code for url, code in answered_while_held.items() if code >= 500} == {}
