"""Run one roster import: validation pass, then chunked apply with a checkpoint, resumable after a crash.

This module owns its transactions (it is a job, not a request). Each chunk of rows commits in ONE
transaction together with its checkpoint, its counts and its report rows, so a killed worker leaves
either the whole chunk or none of it; the next claim of the job starts after the checkpoint. Chunk
boundaries are counted from the first data row, so a resumed run cuts the file exactly as a clean run.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final, Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from app.bulk import lock_for_transaction
from app.config import Settings
from app.db import utcnow
from app.imports.decoding import RosterFileError
from app.imports.pipeline import StreamItem, validated_stream, write_report
from app.imports.reading import RosterReader, open_roster
from app.imports.resolve import RegionResolver
from app.imports.upsert import ChunkPlanner, ImportState, note_dry_run, write_mentors
from app.models import ImportRowResult, RosterFile, RosterImport

Progress = Callable[[str, int, int | None], None]
Mode = Literal["apply", "dry_run", "report"]
ROWS_REJECTED: Final = "rows_rejected"
_BEAT_EVERY_ROWS: Final = 5_000
_GC_GEN0_THRESHOLD: Final = 50_000


class LeaseLost(Exception):
    """Another worker took this import over (our lease expired); stop without writing more."""


@dataclass(frozen=True, slots=True)
class ImportLimits:
    """The settings an import run needs."""

    chunk_rows: int = 1_000
    max_rows: int = 200_000

    @classmethod
    def from_settings(cls, settings: Settings) -> ImportLimits:
        """Limits from the service settings."""
        return cls(chunk_rows=settings.import_chunk_rows, max_rows=settings.import_max_rows)


@dataclass(slots=True)
class _Run:
    """One execution of an import: its fixed parameters, its file, and its running counts."""

    sessions: sessionmaker[Session]
    import_id: int
    limits: ImportLimits
    beat: Callable[[], bool]
    progress: Progress
    data: bytes
    imp: dict[str, Any]

    def open(self) -> RosterReader:
        return open_roster(
            io.BytesIO(self.data),
            filename=self.imp["filename"],
            content_type=self.imp["content_type"],
            sheet_name=self.imp["sheet"],
        )

    def set(self, **values: Any) -> None:
        with self.sessions.begin() as session:
            session.execute(update(RosterImport).where(RosterImport.id == self.import_id).values(**values))
        self.imp.update(values)

    def fail(self, code: str, zh: str, en: str) -> None:
        self.set(
            status="failed",
            error_code=code,
            error_detail=json.dumps({"zh": zh, "en": en}, ensure_ascii=False),
            finished_at=utcnow(),
        )

    def keep_lease(self) -> None:
        if not self.beat():
            raise LeaseLost(f"import {self.import_id}: lease lost")


def _noop_progress(phase: str, done: int, total: int | None) -> None:
    return None


def run_import(
    sessions: sessionmaker[Session],
    import_id: int,
    *,
    limits: ImportLimits | None = None,
    beat: Callable[[], bool] = lambda: True,
    progress: Progress = _noop_progress,
) -> str:
    """Validate then apply (or dry-run) one import, resuming after its checkpoint; returns the status."""
    with sessions.begin() as session:
        imp = session.get(RosterImport, import_id)
        file = session.get(RosterFile, import_id)
        if imp is None or file is None:
            return "missing"
        snapshot = {c.key: getattr(imp, c.key) for c in RosterImport.__table__.columns}
        data = file.data
    run = _Run(sessions, import_id, limits or ImportLimits(), beat, progress, data, snapshot)
    if run.imp["status"] in ("done", "failed"):
        return str(run.imp["status"])
    with _fewer_collections():
        return _run(run)


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Run the cyclic GC less often while importing, then restore the process's thresholds.

    Validating and planning allocate millions of short-lived containers that die by reference count;
    with the default gen-0 threshold (700) the collector runs thousands of times (about 15% of the
    validation time in a micro-benchmark). 50,000 objects between collections stay a few MB at most.
    """
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], _GC_GEN0_THRESHOLD), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _run(run: _Run) -> str:
    """The validation pass (unless a crashed run already finished it), then the chunked apply."""
    if run.imp["status"] in ("queued", "validating"):
        run.set(status="validating", started_at=run.imp["started_at"] or utcnow())
        try:
            rejected = _validate(run)
        except RosterFileError as exc:
            run.fail(exc.code, exc.message_zh, exc.message_en)
            return "failed"
        # reject_file: a bad row fails the import before any mentor is written; we still report it.
        run.set(status="applying", error_code=ROWS_REJECTED if rejected else None)
    mode: Mode = (
        "report" if run.imp["error_code"] == ROWS_REJECTED else "dry_run" if run.imp["dry_run"] else "apply"
    )
    _apply_chunks(run, mode)
    if mode == "report":
        n = run.imp["rejected_count"]
        run.fail(
            ROWS_REJECTED,
            f"有 {n} 行无法导入，按“整文件拒绝”设置，本次未写入任何数据。请查看错误报告并修改后重新上传。",
            f"{n} rows cannot be imported; with on_error=reject_file nothing was written. "
            "See the error report, fix the rows and upload again.",
        )
        return "failed"
    run.set(status="done", finished_at=utcnow())
    return "done"


def _too_many_rows(limit: int) -> RosterFileError:
    return RosterFileError(
        "too_many_rows",
        f"文件超过 {limit} 行的上限，请拆分后分批导入。",
        f"The file has more than {limit} rows; split it and import the parts separately.",
    )


def _validate(run: _Run) -> int:
    """Stream the whole file once before any write; return how many rows would be rejected.

    With skip_row only whole-file problems matter here (a bad byte late in the file, the row limit),
    so rows are just read. With reject_file every row is validated and planned against the table.
    """
    office = run.imp["township_code"]
    reject_file = run.imp["on_error"] == "reject_file"
    rows = rejected = 0
    with run.open() as reader:
        run.set(unknown_columns=list(reader.unknown_columns), sheet=reader.sheet_title or run.imp["sheet"])
        if not reject_file:
            for _ in reader:
                rows += 1
                if rows > run.limits.max_rows:
                    raise _too_many_rows(run.limits.max_rows)
                if rows % _BEAT_EVERY_ROWS == 0:
                    run.keep_lease()
                    run.progress("validating", rows, None)
        else:
            state = ImportState(office)
            chunk: list[StreamItem] = []
            for item in validated_stream(reader, RegionResolver(run.sessions), office):
                rows += 1
                if rows > run.limits.max_rows:
                    raise _too_many_rows(run.limits.max_rows)
                chunk.append(item)
                if len(chunk) >= run.limits.chunk_rows:
                    rejected += _count_rejected(run, state, chunk)
                    chunk = []
                    run.keep_lease()
                    run.progress("validating", rows, None)
            rejected += _count_rejected(run, state, chunk)
    run.set(rows_total=rows)
    run.progress("validating", rows, rows)
    return rejected


def _count_rejected(run: _Run, state: ImportState, chunk: list[StreamItem]) -> int:
    """Plan a chunk without writing (read-only, a short session) and count its rejected rows."""
    if not chunk:
        return 0
    with run.sessions() as session:
        plans = ChunkPlanner(session, state).plan(chunk)
    note_dry_run(plans, state)
    return sum(p.outcome == "rejected" for p in plans)


_COUNTS: Final = {
    "created": "created_count",
    "updated": "updated_count",
    "unchanged": "unchanged_count",
    "rejected": "rejected_count",
}


def _apply_chunks(run: _Run, mode: Mode) -> None:
    """Apply the rows after the checkpoint, one transaction per chunk."""
    office = run.imp["township_code"]
    checkpoint = run.imp["checkpoint_row"] or 0
    state = ImportState(office)
    if checkpoint:
        with run.sessions() as session:
            state.claimed.update(
                session.scalars(
                    select(ImportRowResult.mentor_id).where(
                        ImportRowResult.import_id == run.import_id, ImportRowResult.mentor_id.is_not(None)
                    )
                )
            )
    total = run.imp["rows_total"]
    with run.open() as reader:
        chunk: list[StreamItem] = []
        for item in validated_stream(reader, RegionResolver(run.sessions), office):
            if item[0].row_number <= checkpoint:
                continue  # committed by an earlier run; validated again only to rebuild in-file state
            chunk.append(item)
            if len(chunk) >= run.limits.chunk_rows:
                checkpoint = _commit_chunk(run, chunk, state, mode, checkpoint)
                chunk = []
                run.keep_lease()
                run.progress("applying", run.imp["rows_processed"], total)
        if chunk:
            checkpoint = _commit_chunk(run, chunk, state, mode, checkpoint)
    run.progress("applying", run.imp["rows_processed"], total)


def _township_locks(run: _Run, chunk: list[StreamItem]) -> list[str]:
    """Lock names for the townships a chunk writes into: the office's, or each row's (admin)."""
    office = run.imp["township_code"]
    if office:
        return [f"roster-import:{office}"]
    towns = {item[0].row.township_code for item in chunk if item[0].row is not None}
    return [f"roster-import:{town}" for town in sorted(towns)]


def _commit_chunk(run: _Run, chunk: list[StreamItem], state: ImportState, mode: Mode, checkpoint: int) -> int:
    """Plan and write one chunk with its checkpoint and counts in a single transaction."""
    new_checkpoint = chunk[-1][0].row_number
    counts = {column: run.imp[column] or 0 for column in _COUNTS.values()}
    with run.sessions.begin() as session:
        # Taking the checkpoint first locks the import row; a second worker that also thinks it owns
        # the import (its lease expired while it ran) finds the checkpoint moved and stops.
        moved = session.execute(
            update(RosterImport)
            .where(
                RosterImport.id == run.import_id,
                RosterImport.checkpoint_row == checkpoint,
                RosterImport.status == "applying",
            )
            .values(checkpoint_row=new_checkpoint)
        )
        if moved.rowcount != 1:
            raise LeaseLost(f"import {run.import_id}: checkpoint moved by another worker")
        # Imports into one township must not interleave their key lookups and writes: two workers
        # importing the same roster would each find no mentor and both create it. The lock is held
        # until this chunk commits, so the other import's next lookup sees these rows.
        lock_for_transaction(session, *_township_locks(run, chunk))
        plans = ChunkPlanner(session, state).plan(chunk)
        if mode == "apply":
            write_mentors(session, plans, state, utcnow())
        else:
            note_dry_run(plans, state)
        write_report(session, run.import_id, plans, only_rejected=mode == "report")
        for plan in plans:
            if mode != "report" or plan.outcome == "rejected":
                counts[_COUNTS[plan.outcome]] += 1
        processed = (run.imp["rows_processed"] or 0) + len(chunk)
        session.execute(
            update(RosterImport)
            .where(RosterImport.id == run.import_id)
            .values(rows_processed=processed, **counts)
        )
    run.imp.update(counts, rows_processed=processed, checkpoint_row=new_checkpoint)
    return new_checkpoint
