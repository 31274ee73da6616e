"""Roster imports: the uploaded file, the job's progress, and every row's outcome or issue."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, JSONDoc, UTCDateTime, utcnow


class ImportStatus(StrEnum):
    """Where a roster import is; an import moves forward only, and done or failed is final."""

    QUEUED = "queued"
    VALIDATING = "validating"
    APPLYING = "applying"
    DONE = "done"
    FAILED = "failed"


FINAL_IMPORT_STATUSES = (ImportStatus.DONE, ImportStatus.FAILED)


class RosterImport(Base):
    """One uploaded roster and where its processing stands (checkpointed for resume)."""

    __tablename__ = "roster_imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    township_code: Mapped[str | None] = mapped_column(String(9), index=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str | None] = mapped_column(String(128))
    sheet: Mapped[str | None] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    on_error: Mapped[str] = mapped_column(String(16), default="skip_row")
    status: Mapped[str] = mapped_column(String(16), default=ImportStatus.QUEUED, index=True)
    rows_total: Mapped[int | None] = mapped_column(Integer)
    rows_processed: Mapped[int] = mapped_column(Integer, default=0)
    created_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_count: Mapped[int] = mapped_column(Integer, default=0)
    unchanged_count: Mapped[int] = mapped_column(Integer, default=0)
    rejected_count: Mapped[int] = mapped_column(Integer, default=0)
    # Last spreadsheet row whose chunk committed; a resumed run starts after it.
    checkpoint_row: Mapped[int] = mapped_column(Integer, default=0)
    unknown_columns: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    # [[field, the file's own header text], ...] in the file's column order, kept when the header is read
    # so the error report never parses the upload again. Pairs, not an object: JSONB drops key order.
    column_labels: Mapped[list[list[str]] | None] = mapped_column(JSONDoc)
    # A dry run's real import once it is applied: a second click on "apply" finds it instead of queueing
    # the same file again.
    applied_as_id: Mapped[int | None] = mapped_column(ForeignKey("roster_imports.id", ondelete="SET NULL"))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RosterFile(Base):
    """The uploaded bytes, kept apart so listing imports never loads them."""

    __tablename__ = "roster_files"

    import_id: Mapped[int] = mapped_column(
        ForeignKey("roster_imports.id", ondelete="CASCADE"), primary_key=True
    )
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ImportRowResult(Base):
    """The outcome of one row: created, updated (with fields), unchanged or rejected."""

    __tablename__ = "import_row_results"
    __table_args__ = (Index("ix_import_row_results_import_row", "import_id", "row_number", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("roster_imports.id", ondelete="CASCADE"))
    row_number: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16))
    mentor_id: Mapped[int | None] = mapped_column(Integer)
    changed_fields: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    # The original cells of a rejected row, for the downloadable error report.
    raw: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc)


class ImportRowIssue(Base):
    """An error or warning about one cell (or the whole row when column is null)."""

    __tablename__ = "import_row_issues"
    __table_args__ = (Index("ix_import_row_issues_import_row", "import_id", "row_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("roster_imports.id", ondelete="CASCADE"))
    row_number: Mapped[int] = mapped_column(Integer)
    column: Mapped[str | None] = mapped_column(String(64))
    original_value: Mapped[str | None] = mapped_column(Text)
    code: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(8))
    message_zh: Mapped[str] = mapped_column(Text)
    message_en: Mapped[str] = mapped_column(Text)
