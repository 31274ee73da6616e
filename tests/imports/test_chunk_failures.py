"""A failure part-way through the apply pass: only the chunk in flight rolls back, and it resumes.

Whether the error comes from reading/validating the next rows or from writing a chunk, the chunks
before it stay committed with their checkpoint and report rows, nothing of the failed chunk is left,
and the next run resumes after the checkpoint to the same database state as a clean run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.db import make_engine, make_sessionmaker
from app.imports import apply
from app.imports.apply import ImportLimits, run_import
from app.models import ImportRowIssue, ImportRowResult, RosterImport
from tests.imports.test_resume import _reset, _roster, _snapshot, _submit, committed_url  # noqa: F401 - fixture

CHUNK = 50
ROWS = 600
LIMITS = ImportLimits(chunk_rows=CHUNK)


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


def _clean_result(sessions: sessionmaker[Session]) -> tuple[dict[str, Any], Any]:
    _reset(sessions)
    import_id = _submit(sessions, _roster(ROWS, version=1), queue=False)
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
    import_id = _submit(sessions, _roster(ROWS, version=1), queue=False)
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
    # Exactly the chunks before the failure are committed, with their report rows and nothing more.
    committed = (fail_at_chunk - 1) * CHUNK
    assert _committed_rows(sessions, import_id) == (1 + committed, committed)
    assert len(_snapshot(sessions)) < len(clean_mentors)

    monkeypatch.undo()
    assert run_import(sessions, import_id, limits=LIMITS) == "done"
    assert _snapshot(sessions) == clean_mentors
    assert _report(sessions, import_id) == clean_report
