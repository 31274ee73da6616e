"""Two real `jieduan worker` processes import the same phone-keyed roster at once: nothing is duplicated.

Imports into one township take a lock per township in each chunk's transaction, so their key lookups
and writes cannot interleave. Runs on a committed private database (SQLite file or PostgreSQL schema).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.config import PROJECT_ROOT
from app.db import make_engine, make_sessionmaker
from app.imports import service
from app.jobs.queue import enqueue
from app.models import Account, Job, Mentor, RosterImport
from tests.imports.conftest import ZHAXIA, csv_bytes
from tests.live import private_database

ROWS = 3_000
# Small chunks, so the two imports have many chances to interleave without the lock.
CHUNK = 100
HEADER = ["名称", "类型", "手机号", "行政区划代码", "主营产品", "可分享资源", "可带徒人数"]


@pytest.fixture
def committed_url(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with private_database(database_url, tmp_path_factory.mktemp("workers")) as url:
        yield url


def _roster() -> bytes:
    """3,000 sellers keyed only by phone: no external id, no credit code."""
    rows = [
        [f"示范户{n}", "农户", f"139{n:08d}", ZHAXIA, "花木、盆景", "技术,物流", "2"] for n in range(ROWS)
    ]
    return csv_bytes(rows, header=HEADER)


def test_two_workers_importing_one_roster_create_each_seller_once(committed_url: str) -> None:
    engine = make_engine(committed_url)
    sessions = make_sessionmaker(engine)
    data = _roster()
    with sessions.begin() as session:
        office = Account(username="office", password_hash="x", role="township_office", display_name="o",
                         jurisdiction_code=ZHAXIA)  # fmt: skip
        session.add(office)
        session.flush()
        ids = []
        for _ in range(2):
            imp = service.create_import(
                session, created_by=office.id, township=ZHAXIA, data=data, filename="r.csv",
                content_type="text/csv", sheet=None, dry_run=False, on_error="skip_row",
            )  # fmt: skip
            enqueue(session, kind="roster_import", ref_id=imp.id)
            ids.append(imp.id)

    env = {
        **os.environ,
        "JIEDUAN_DATABASE_URL": committed_url,
        "JIEDUAN_SECRET_KEY": "w" * 32,
        "JIEDUAN_IMPORT_CHUNK_ROWS": str(CHUNK),
        "JIEDUAN_RUN_WORKER": "false",
    }
    command = [sys.executable, "-m", "app", "worker", "--until-idle"]
    workers = [subprocess.Popen(command, cwd=PROJECT_ROOT, env=env) for _ in range(2)]
    try:
        for worker in workers:
            assert worker.wait(timeout=300) == 0
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()

    with Session(engine) as session:
        jobs = session.scalars(select(Job).where(Job.kind == "roster_import")).all()
        assert [job.status for job in jobs] == ["done", "done"]
        imports = [session.get(RosterImport, i) for i in ids]
        assert all(imp is not None and imp.status == "done" for imp in imports)
        created = sum(imp.created_count for imp in imports if imp)
        unchanged = sum(imp.unchanged_count for imp in imports if imp)
        assert (created, unchanged) == (ROWS, ROWS)
        mentors = session.scalar(select(func.count()).select_from(Mentor))
        phones = session.scalar(select(func.count(func.distinct(Mentor.phone))))
        assert mentors == phones == ROWS
    engine.dispose()
