"""Kill a worker mid-import (SIGKILL, real subprocess, real committed database) and resume it.

The final mentors table must equal a clean run's: same keys, same values, no duplicates, no half rows.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, delete, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from app.config import PROJECT_ROOT, Settings
from app.db import make_engine, make_sessionmaker, utcnow, with_search_path
from app.imports import service
from app.imports.write.upsert import IMPORTED
from app.jobs.handlers import HANDLERS
from app.jobs.queue import enqueue
from app.jobs.worker import Worker
from app.migrations import upgrade
from app.models import Account, ImportRowResult, Job, Mentor, MentorProduct, RosterImport
from app.reference import load_reference_data
from tests.imports.conftest import API_HEADER, ZHAXIA, api_row, csv_bytes

CHUNK = 100
ROWS = 4_000

VICTIM = """
import sys
from app.config import Settings
from app.db import make_engine, make_sessionmaker, utcnow, with_search_path
from app.jobs.handlers import HANDLERS
from app.jobs.worker import Worker
Worker(make_sessionmaker(make_engine(sys.argv[1])), HANDLERS, name="victim").run_until_idle()
"""


@pytest.fixture(scope="module")
def committed_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real database that other processes can see: a temp SQLite file, or a private PostgreSQL schema."""
    base = os.environ.get("JIEDUAN_TEST_DATABASE_URL")
    admin = None
    if base:
        schema = f"resume_{uuid.uuid4().hex[:8]}"
        admin = create_engine(base)
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        url = with_search_path(base, schema)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('resume') / 'resume.db'}"
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        load_reference_data(session, include_townships=True)
        session.add(Account(username="office", password_hash="x", role="township_office", display_name="o",
                            jurisdiction_code=ZHAXIA))  # fmt: skip
        session.commit()
    engine.dispose()
    yield url
    if admin is not None:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def _roster(n_rows: int, *, version: int) -> bytes:
    rows = []
    for n in range(n_rows):
        changes: dict[str, str] = {"phone": f"+86 138-{n:04d}-{n:04d}"}
        if version == 2 and n % 3 == 0:
            changes.update(name=f"示范户{n}（新）", capacity="4")
        if n % 97 == 5:
            changes["kind"] = "学生"  # rejected in both versions
        rows.append(api_row(n, **changes))
    return csv_bytes(rows, header=API_HEADER, encoding="gbk")


def _submit(sessions: sessionmaker[Session], data: bytes, *, queue: bool = True) -> int:
    """An office's import of `data` (skip_row), queued for the job worker unless a test runs it itself."""
    with sessions.begin() as session:
        office = session.scalar(select(Account.id).where(Account.username == "office"))
        imp = service.create_import(
            session, created_by=office, township=ZHAXIA, data=data, filename="r.csv", content_type="text/csv",
            sheet=None, dry_run=False, on_error="skip_row",
        )  # fmt: skip
        if queue:
            enqueue(session, kind="roster_import", ref_id=imp.id)
        return imp.id


def _snapshot(sessions: sessionmaker[Session]) -> dict[str, tuple[Any, ...]]:
    with sessions() as session:
        products: dict[int, list[str]] = {}
        for mentor_id, code in session.execute(
            select(MentorProduct.mentor_id, MentorProduct.category_code).order_by(
                MentorProduct.mentor_id, MentorProduct.position
            )
        ):
            products.setdefault(mentor_id, []).append(code)
        columns = [Mentor.__table__.c[c] for c in (*IMPORTED, "import_hash", "version", "is_active")]
        rows = session.execute(select(Mentor.id, *columns)).all()
    snap = {row.external_id: (*row[1:], tuple(products.get(row.id, []))) for row in rows}
    assert len(snap) == len(rows), "duplicate external ids"
    return snap


def _reset(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        session.execute(delete(MentorProduct))
        session.execute(delete(Mentor))


def _checkpoint(sessions: sessionmaker[Session], import_id: int) -> int:
    with sessions() as session:
        return session.scalar(select(RosterImport.checkpoint_row).where(RosterImport.id == import_id)) or 0


def test_killed_import_resumes_to_the_clean_result(committed_url: str) -> None:
    settings = Settings(database_url=committed_url, secret_key="k" * 32, import_chunk_rows=CHUNK)
    engine = make_engine(committed_url)
    sessions = make_sessionmaker(engine)
    first, second = _roster(ROWS // 2, version=1), _roster(ROWS, version=2)

    # The clean run: both files, one worker, no interruption.
    _reset(sessions)
    _submit(sessions, first)
    _submit(sessions, second)
    assert Worker(sessions, HANDLERS, settings=settings).run_until_idle() == 2
    clean = _snapshot(sessions)
    _reset(sessions)

    _submit(sessions, first)
    Worker(sessions, HANDLERS, settings=settings).run_until_idle()
    import_id = _submit(sessions, second)
    env = {**os.environ, "JIEDUAN_IMPORT_CHUNK_ROWS": str(CHUNK), "JIEDUAN_SECRET_KEY": "k" * 32}
    victim = subprocess.Popen([sys.executable, "-c", VICTIM, committed_url], cwd=PROJECT_ROOT, env=env)
    try:
        # No deadline: the loop ends at the first checkpoint or when the worker exits, however slow.
        while _checkpoint(sessions, import_id) == 0:
            assert victim.poll() is None, "the worker ended before its first checkpoint"
            time.sleep(0.005)
        victim.kill()  # SIGKILL: no cleanup, a chunk may be half way through its transaction
        victim.wait(10)
    finally:
        if victim.poll() is None:
            victim.kill()
    killed_at = _checkpoint(sessions, import_id)
    with sessions() as session:
        imp = session.get(RosterImport, import_id)
        assert imp is not None and imp.status == "applying", "killed too late to test a resume"
        assert 0 < killed_at < ROWS + 1 and killed_at % CHUNK == 1  # row numbers start at 2, after the header
        assert session.scalar(select(func.count()).select_from(ImportRowResult).where(
            ImportRowResult.import_id == import_id)) == imp.rows_processed  # fmt: skip

    # The lease of the dead worker runs out; another worker takes the job and resumes after the checkpoint.
    with sessions.begin() as session:
        job = session.scalar(select(Job).where(Job.ref_id == import_id, Job.kind == "roster_import"))
        assert job is not None and job.status == "running" and job.locked_by == "victim"
        job.lease_until = utcnow() - timedelta(seconds=1)
    assert Worker(sessions, HANDLERS, settings=settings, name="rescuer").run_until_idle() == 1

    with sessions() as session:
        imp = session.get(RosterImport, import_id)
        job = session.scalar(select(Job).where(Job.ref_id == import_id, Job.kind == "roster_import"))
        assert imp is not None and job is not None
        assert imp.status == "done" and job.status == "done" and job.attempts == 2
        counts = (imp.created_count, imp.updated_count, imp.unchanged_count, imp.rejected_count)
        assert sum(counts) == imp.rows_total == imp.rows_processed == ROWS
        assert session.scalar(select(func.count()).select_from(ImportRowResult).where(
            ImportRowResult.import_id == import_id)) == ROWS  # fmt: skip
        rejected = sum(1 for n in range(ROWS) if n % 97 == 5)
        assert imp.rejected_count == rejected
        assert imp.created_count == ROWS // 2 - sum(1 for n in range(ROWS // 2, ROWS) if n % 97 == 5)
    resumed = _snapshot(sessions)
    assert resumed.keys() == clean.keys()
    assert resumed == clean
    engine.dispose()


def test_cli_import_dry_run_then_apply(
    committed_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from app.cli import main

    settings = Settings(database_url=committed_url, secret_key="k" * 32, import_chunk_rows=7)
    monkeypatch.setattr("app.imports.cli.get_settings", lambda: settings)
    path = tmp_path / "名单.csv"
    path.write_bytes(csv_bytes([api_row(n, external_id=f"CLI{n}") for n in range(20)], header=API_HEADER))

    main(["import", str(path), "--township", ZHAXIA, "--as-user", "office", "--dry-run"])
    dry = json.loads(capsys.readouterr().out)
    assert dry["status"] == "done" and dry["dry_run"] and dry["counts"]["created"] == 20
    main(["import", str(path), "--on-error", "reject_file"])  # recorded as the built-in system account
    report = json.loads(capsys.readouterr().out)
    assert (
        report["status"] == "done" and report["counts"]["created"] == 20 and report["township_code"] is None
    )
    main(["import", str(path), "--township", ZHAXIA])
    assert json.loads(capsys.readouterr().out)["counts"]["unchanged"] == 20
    with pytest.raises(SystemExit):
        main(["import", str(path), "--as-user", "nobody"])
    with make_sessionmaker(make_engine(committed_url))() as session:
        system = session.scalar(select(Account).where(Account.username == "system-import"))
        assert system is not None and not system.is_active and system.role == "admin"
