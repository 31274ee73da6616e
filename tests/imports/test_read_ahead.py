"""The apply pass validates the next chunks in a worker thread (app/imports/ahead.py).

Behaviour that must not depend on it: the database ends as a serial run leaves it, a failure on
either side of the queue rolls back only the chunk in flight, the worker thread ends with the run,
and the next run resumes after the last committed chunk to the clean result.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.db import make_engine, make_sessionmaker, sessions_have_own_connections
from app.imports import apply, service
from app.imports.ahead import read_ahead
from app.imports.apply import ImportLimits, run_import
from app.models import Account, ImportRowIssue, ImportRowResult, RosterImport
from tests.imports.conftest import ZHAXIA
from tests.imports.test_resume import _reset, _roster, _snapshot, committed_url  # noqa: F401 - fixture

CHUNK = 50
ROWS = 600
LIMITS = ImportLimits(chunk_rows=CHUNK)


def _live_workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "import-read-ahead"]


class TestReadAhead:
    @pytest.mark.parametrize("threaded", [True, False])
    def test_yields_every_item_in_order(self, threaded: bool) -> None:
        with read_ahead(lambda: iter(range(1_000)), threaded=threaded) as items:
            assert list(items) == list(range(1_000))
        assert not _live_workers()

    def test_a_producer_error_is_raised_after_the_items_before_it(self) -> None:
        def failing() -> Iterator[int]:
            yield 1
            yield 2
            raise ValueError("bad byte")

        seen = []
        with pytest.raises(ValueError, match="bad byte"), read_ahead(failing) as items:
            seen.extend(items)
        assert seen == [1, 2]
        assert not _live_workers()

    @pytest.mark.parametrize("threaded", [True, False])
    def test_leaving_early_stops_the_worker_and_closes_the_source(self, threaded: bool) -> None:
        closed = threading.Event()

        def endless() -> Iterator[int]:
            try:
                n = 0
                while True:
                    yield n
                    n += 1
            finally:
                closed.set()

        with read_ahead(endless, threaded=threaded) as items:
            assert next(items) == 0
        assert closed.is_set()
        assert not _live_workers()


def _submit(sessions: sessionmaker[Session], data: bytes) -> int:
    with sessions.begin() as session:
        office = session.scalar(select(Account.id).where(Account.username == "office"))
        imp = service.create_import(
            session, created_by=office, township=ZHAXIA, data=data, filename="r.csv", content_type="text/csv",
            sheet=None, dry_run=False, on_error="skip_row",
        )  # fmt: skip
        return imp.id


def _report(sessions: sessionmaker[Session], import_id: int) -> tuple[list[Any], list[Any], tuple[Any, ...]]:
    """The import's report rows and counts, without ids that differ between runs."""
    with sessions() as session:
        results = session.execute(
            select(ImportRowResult.row_number, ImportRowResult.outcome, ImportRowResult.changed_fields,
                   ImportRowResult.raw, ImportRowResult.mentor_id.is_(None))
            .where(ImportRowResult.import_id == import_id).order_by(ImportRowResult.row_number)
        ).all()  # fmt: skip
        issues = session.execute(
            select(ImportRowIssue.row_number, ImportRowIssue.column, ImportRowIssue.code,
                   ImportRowIssue.original_value, ImportRowIssue.message_en)
            .where(ImportRowIssue.import_id == import_id)
            .order_by(ImportRowIssue.row_number, ImportRowIssue.code)
        ).all()  # fmt: skip
        imp = session.get(RosterImport, import_id)
        assert imp is not None
        counts = (imp.status, imp.rows_processed, imp.created_count, imp.updated_count,
                  imp.unchanged_count, imp.rejected_count, imp.checkpoint_row)  # fmt: skip
    return [tuple(r) for r in results], [tuple(i) for i in issues], counts


def _two_imports(sessions: sessionmaker[Session]) -> list[tuple[Any, ...]]:
    """A first roster, then a second one that updates a third of it: every outcome occurs."""
    _reset(sessions)
    reports = []
    for version, rows in ((1, ROWS // 2 + 3), (2, ROWS + 11)):  # the last chunks are partial
        import_id = _submit(sessions, _roster(rows, version=version))
        assert run_import(sessions, import_id, limits=LIMITS) == "done"
        reports.append(_report(sessions, import_id))
    return [_snapshot(sessions), *reports]


def test_pipelined_import_leaves_the_database_a_serial_one_does(
    committed_url: str,  # noqa: F811 - the fixture imported above
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sessions = make_sessionmaker(make_engine(committed_url))
    pipelined = _two_imports(sessions)
    # The path a factory sharing one connection takes: validated in this thread, chunk by chunk.
    monkeypatch.setattr(apply, "sessions_have_own_connections", lambda _sessions: False)
    serial = _two_imports(sessions)
    assert pipelined == serial
    outcomes = {r[1] for r in pipelined[2][0]}
    assert outcomes == {"created", "updated", "unchanged", "rejected"}


def _clean_result(sessions: sessionmaker[Session]) -> tuple[dict[str, Any], Any]:
    _reset(sessions)
    import_id = _submit(sessions, _roster(ROWS, version=1))
    assert run_import(sessions, import_id, limits=LIMITS) == "done"
    return _snapshot(sessions), _report(sessions, import_id)


def _committed_rows(sessions: sessionmaker[Session], import_id: int) -> tuple[int, int]:
    with sessions() as session:
        imp = session.get(RosterImport, import_id)
        assert imp is not None and imp.status == "applying"
        results = session.scalar(
            select(func.count()).select_from(ImportRowResult).where(ImportRowResult.import_id == import_id)
        )
        return imp.checkpoint_row, results or 0


@pytest.mark.parametrize("side", ["validating", "writing"])
def test_a_failure_mid_import_keeps_the_committed_chunks_and_resumes(
    committed_url: str,  # noqa: F811 - the fixture imported above
    monkeypatch: pytest.MonkeyPatch,
    side: str,
) -> None:
    sessions = make_sessionmaker(make_engine(committed_url))
    clean_mentors, clean_report = _clean_result(sessions)
    _reset(sessions)
    import_id = _submit(sessions, _roster(ROWS, version=1))
    fail_at_chunk = 4  # three chunks commit, the fourth fails
    if side == "validating":
        real_stream = apply.validated_stream

        def stream(*args: Any) -> Iterator[Any]:
            for item in real_stream(*args):
                if item.raw.row_number == 1 + CHUNK * (fail_at_chunk - 1) + 7:  # mid-way through chunk 4
                    raise OSError("disk gone")
                yield item

        monkeypatch.setattr(apply, "validated_stream", stream)
    else:
        real_report = apply.write_report
        calls = []

        def report(*args: Any, **kwargs: Any) -> None:
            calls.append(1)
            real_report(*args, **kwargs)  # the chunk's mentors and report rows are written, then:
            if len(calls) == fail_at_chunk:
                raise OSError("connection reset")

        monkeypatch.setattr(apply, "write_report", report)
    with pytest.raises(OSError):
        run_import(sessions, import_id, limits=LIMITS)
    assert not _live_workers()
    # Exactly the chunks before the failure are committed, with their report rows and nothing more.
    committed = (fail_at_chunk - 1) * CHUNK
    assert _committed_rows(sessions, import_id) == (1 + committed, committed)
    assert len(_snapshot(sessions)) < len(clean_mentors)

    monkeypatch.undo()
    assert run_import(sessions, import_id, limits=LIMITS) == "done"
    assert _snapshot(sessions) == clean_mentors
    assert _report(sessions, import_id) == clean_report


def test_only_a_factory_with_a_connection_per_session_validates_in_a_thread(
    committed_url: str,  # noqa: F811 - the fixture imported above
) -> None:
    engine = make_engine(committed_url)
    assert sessions_have_own_connections(make_sessionmaker(engine))
    with engine.connect() as connection:
        assert not sessions_have_own_connections(sessionmaker(bind=connection))
    engine.dispose()
