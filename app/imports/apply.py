"""Run one roster import: validation pass, then chunked apply with a checkpoint, resumable after a crash.

This module owns its transactions (it is a job, not a request). Each chunk of rows commits in ONE
transaction together with its checkpoint, its counts and its report rows, so a killed worker leaves
either the whole chunk or none of it; the next claim of the job starts after the checkpoint. Chunk
boundaries are counted from the first data row, so a resumed run cuts the file exactly as a clean run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from app.bulk import lock_for_transaction
from app.config import Settings
from app.db import utcnow
from app.imports.read.decoding import RosterFileError
from app.imports.read.headers import file_labels
from app.imports.read.limits import ReadLimits
from app.imports.read.reading import RosterReader, RosterSource
from app.imports.validate.keys import DuplicateFinder, Duplicates
from app.imports.validate.resolve import RegionResolver
from app.imports.validate.stream import Checked, validated_stream
from app.imports.write.outcomes import write_report
from app.imports.write.upsert import ChunkPlanner, ImportState, note_dry_run, write_mentors
from app.models import ImportRowResult, RosterFile, RosterImport
from app.models.imports import FINAL_IMPORT_STATUSES, ImportStatus

Progress = Callable[[str, int, int | None], None]
Mode = Literal["apply", "dry_run", "report"]
ROWS_REJECTED: Final = "rows_rejected"
_BEAT_EVERY_ROWS: Final = 5_000
_GC_GEN0_THRESHOLD: Final = 50_000
_ROSTER_COLUMNS: Final = 30  # a wide real roster: the template's 20 fields and a few of the office's own
IMPORTS: Final = RosterImport.__table__


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


@dataclass(frozen=True, slots=True)
class ImportSnapshot:
    """The import row as this run last wrote it; `_Run.set` writes the table and replaces it."""

    filename: str
    content_type: str | None
    sheet: str | None
    township_code: str | None
    dry_run: bool
    on_error: str
    status: str
    error_code: str | None
    error_detail: str | None
    checkpoint_row: int
    rows_total: int | None
    rows_processed: int
    created_count: int
    updated_count: int
    unchanged_count: int
    rejected_count: int
    unknown_columns: list[str]
    column_labels: list[list[str]] | None
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, imp: RosterImport) -> ImportSnapshot:
        """Copy the fields a run uses from the ORM row."""
        return cls(**{f.name: getattr(imp, f.name) for f in dataclasses.fields(cls)})


@dataclass(slots=True)
class _Run:
    """One execution of an import: its fixed parameters, its file, and its running counts."""

    sessions: sessionmaker[Session]
    import_id: int
    limits: ImportLimits
    beat: Callable[[], bool]
    progress: Progress
    source: RosterSource
    imp: ImportSnapshot

    def open(self) -> RosterReader:
        return self.source.open()

    def set(self, **values: Any) -> None:
        # replace() first: a misspelt field fails before anything is written.
        snapshot = dataclasses.replace(self.imp, **values)
        with self.sessions.begin() as session:
            session.execute(update(RosterImport).where(RosterImport.id == self.import_id).values(**values))
        self.imp = snapshot

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
        snapshot = ImportSnapshot.of(imp)
        data = file.data
    if snapshot.status in FINAL_IMPORT_STATUSES:
        return snapshot.status
    limits = limits or ImportLimits()
    # One source for every pass of this run: a workbook is converted once (read/spool.py). The reader
    # gets the configured row limit, so a workbook over it is refused before its sheet is loaded.
    source = RosterSource(
        data,
        filename=snapshot.filename,
        content_type=snapshot.content_type,
        sheet_name=snapshot.sheet,
        limits=ReadLimits(
            max_rows=limits.max_rows,
            # The cell budget keeps room for 30 columns at a raised row limit too.
            max_sheet_cells=max(ReadLimits().max_sheet_cells, _ROSTER_COLUMNS * limits.max_rows),
        ),
    )
    run = _Run(sessions, import_id, limits, beat, progress, source, snapshot)
    try:
        with _fewer_collections():
            return _run(run)
    finally:
        source.close()


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
    try:
        if run.imp.status in (ImportStatus.QUEUED, ImportStatus.VALIDATING):
            run.set(status=ImportStatus.VALIDATING, started_at=run.imp.started_at or utcnow())
            rejected, duplicates = _validate(run)
            # reject_file: a bad row fails the import before any mentor is written; we still report it.
            run.set(status=ImportStatus.APPLYING, error_code=ROWS_REJECTED if rejected else None)
        else:
            # Resuming after a crash: the shared keys are not stored, so count them again.
            duplicates = _find_duplicates(run)
    except RosterFileError as exc:
        run.fail(exc.code, exc.message_zh, exc.message_en)
        return "failed"
    mode: Mode = (
        "report" if run.imp.error_code == ROWS_REJECTED else "dry_run" if run.imp.dry_run else "apply"
    )
    _apply_chunks(run, mode, duplicates)
    if mode == "report":
        n = run.imp.rejected_count
        run.fail(
            ROWS_REJECTED,
            f"有 {n} 行无法导入，按“整文件拒绝”设置，本次未写入任何数据。请查看错误报告并修改后重新上传。",
            f"{n} {'row' if n == 1 else 'rows'} cannot be imported; with on_error=reject_file nothing was "
            "written. See the error report, fix the rows and upload again.",
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


def _no_data_rows() -> RosterFileError:
    return RosterFileError(
        "no_data_rows",
        "文件只有表头，没有数据行。请在表头下方填写名单后重新上传。",
        "The file has a header row but no data rows. Fill in the roster below the header and upload again.",
    )


def _resolver(run: _Run) -> RegionResolver:
    return RegionResolver(run.sessions)


def _count_rows(run: _Run, reader: RosterReader, finder: DuplicateFinder) -> int:
    """Read every row once: enforce the row limit and collect the keys the rows claim."""
    rows = 0
    for raw in reader:
        rows += 1
        if rows > run.limits.max_rows:
            raise _too_many_rows(run.limits.max_rows)
        finder.add(raw)
        if rows % _BEAT_EVERY_ROWS == 0:
            run.keep_lease()
            run.progress("validating", rows, None)
    if rows == 0:
        raise _no_data_rows()
    return rows


def _find_duplicates(run: _Run) -> Duplicates:
    """The keys that several rows of the file share (keys.py), from one pass over the raw cells."""
    finder = DuplicateFinder(office_township=run.imp.township_code, resolve_region=_resolver(run))
    with run.open() as reader:
        _count_rows(run, reader, finder)
    return finder.duplicates()


def _validate(run: _Run) -> tuple[int, Duplicates]:
    """Stream the whole file before any write; return (rows that would be rejected, shared keys).

    With skip_row only whole-file problems matter here (a bad byte late in the file, the row limit,
    no data rows) and the keys rows share, so rows are only read. With reject_file every row is then
    validated and planned against the table, in a second pass that knows the shared keys.
    """
    office = run.imp.township_code
    finder = DuplicateFinder(office_township=office, resolve_region=_resolver(run))
    with run.open() as reader:
        run.set(
            unknown_columns=list(reader.unknown_columns),
            column_labels=file_labels(reader.header),
            sheet=reader.sheet_title or run.imp.sheet,
        )
        rows = _count_rows(run, reader, finder)
    duplicates = finder.duplicates()
    rejected = 0
    if run.imp.on_error == "reject_file":
        state = ImportState(office)
        chunk: list[Checked] = []
        with run.open() as reader:
            for item in validated_stream(reader, _resolver(run), office, duplicates):
                chunk.append(item)
                if len(chunk) >= run.limits.chunk_rows:
                    rejected += _count_rejected(run, state, chunk)
                    chunk = []
                    run.keep_lease()
            rejected += _count_rejected(run, state, chunk)
    run.set(rows_total=rows)
    run.progress("validating", rows, rows)
    return rejected, duplicates


def _count_rejected(run: _Run, state: ImportState, chunk: list[Checked]) -> int:
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


def _apply_chunks(run: _Run, mode: Mode, duplicates: Duplicates) -> None:
    """Apply the rows after the checkpoint, one transaction per chunk."""
    office = run.imp.township_code
    checkpoint = run.imp.checkpoint_row or 0
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
    total = run.imp.rows_total
    with run.open() as reader:
        chunk: list[Checked] = []
        for item in validated_stream(reader, _resolver(run), office, duplicates):
            if item.raw.row_number <= checkpoint:
                continue  # committed by an earlier run; validated again only to rebuild in-file state
            chunk.append(item)
            if len(chunk) >= run.limits.chunk_rows:
                checkpoint = _commit_chunk(run, chunk, state, mode, checkpoint)
                chunk = []
                run.keep_lease()
                run.progress("applying", run.imp.rows_processed, total)
        if chunk:
            checkpoint = _commit_chunk(run, chunk, state, mode, checkpoint)
    run.progress("applying", run.imp.rows_processed, total)


def _township_locks(run: _Run, chunk: list[Checked]) -> list[str]:
    """Lock names for the townships a chunk writes into: the office's, or each row's (admin)."""
    office = run.imp.township_code
    if office:
        return [f"roster-import:{office}"]
    towns = {item.validated.row.township_code for item in chunk if item.validated.row is not None}
    return [f"roster-import:{town}" for town in sorted(towns)]


def _commit_chunk(run: _Run, chunk: list[Checked], state: ImportState, mode: Mode, checkpoint: int) -> int:
    """Plan and write one chunk with its checkpoint and counts in a single transaction."""
    new_checkpoint = chunk[-1].raw.row_number
    counts = {column: getattr(run.imp, column) or 0 for column in _COUNTS.values()}
    with run.sessions.begin() as session:
        # Taking the checkpoint first locks the import row; a second worker that also thinks it owns
        # the import (its lease expired while it ran) finds the checkpoint moved and stops.
        # Core statements on the table: the ORM's bulk UPDATE path costs more per chunk to set up
        # than these two single-row updates take to run.
        moved = session.connection().execute(
            update(IMPORTS)
            .where(
                IMPORTS.c.id == run.import_id,
                IMPORTS.c.checkpoint_row == checkpoint,
                IMPORTS.c.status == ImportStatus.APPLYING,
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
        processed = (run.imp.rows_processed or 0) + len(chunk)
        session.connection().execute(
            update(IMPORTS).where(IMPORTS.c.id == run.import_id).values(rows_processed=processed, **counts)
        )
    run.imp = dataclasses.replace(run.imp, **counts, rows_processed=processed, checkpoint_row=new_checkpoint)
    return new_checkpoint
