"""Request and response shapes of the roster-import endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from app.schemas import Output

ImportStatus = Literal["queued", "validating", "applying", "done", "failed"]
OnError = Literal["skip_row", "reject_file"]
Outcome = Literal["created", "updated", "unchanged", "rejected"]
Severity = Literal["error", "warning"]


class ImportAccepted(Output):
    """The answer to an upload: the import runs in the background; poll its URL."""

    id: int
    status: ImportStatus
    url: str


class ImportCounts(Output):
    """Rows per outcome so far."""

    created: int
    updated: int
    unchanged: int
    rejected: int


class ImportFailure(Output):
    """Why a whole import failed (a file-level problem, the row limit, or rejected rows)."""

    code: str
    message_zh: str
    message_en: str


class ImportRead(Output):
    """One import: where it stands and what it did."""

    id: int
    url: str
    township_code: str | None
    filename: str
    size_bytes: int
    sha256: str
    sheet: str | None
    dry_run: bool
    on_error: OnError
    status: ImportStatus
    rows_total: int | None = Field(description="Data rows in the file, known after validation")
    rows_processed: int
    counts: ImportCounts
    unknown_columns: list[str]
    error: ImportFailure | None
    created_by: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    errors_url: str
    errors_csv_url: str
    rows_url: str


class ImportIssueRead(Output):
    """One problem with one cell (or the whole row)."""

    row_number: int
    column: str | None
    original_value: str | None
    code: str
    severity: Severity
    message_zh: str
    message_en: str


class ImportRowRead(Output):
    """The outcome of one row; updated rows list the fields that changed."""

    row_number: int
    outcome: Outcome
    mentor_id: int | None
    changed_fields: list[str]
