"""Request and response shapes of the roster-import endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from app.models.imports import ImportStatus
from app.schemas import Output

OnError = Literal["skip_row", "reject_file"]
Outcome = Literal["created", "updated", "unchanged", "rejected"]
Severity = Literal["error", "warning"]


class ImportAccepted(Output):
    """The answer to an upload: the import runs in the background; poll its URL."""

    id: int
    """Id of the import"""
    status: ImportStatus
    """queued at first; a replay answers the current status"""
    url: str
    """Where to read the import's state (also in the Location header)"""


class ImportCounts(Output):
    """Rows per outcome so far."""

    created: int
    """Rows that created a seller"""
    updated: int
    """Rows that changed a seller"""
    unchanged: int
    """Rows equal to what is stored"""
    rejected: int
    """Rows refused (see errors)"""


class ImportFailure(Output):
    """Why a whole import failed (a file-level problem, the row limit, or rejected rows)."""

    code: str
    """Stable code of the file-level failure, e.g. too_many_rows"""
    message_zh: str
    """What went wrong, in Chinese"""
    message_en: str
    """What went wrong, in English"""


class ImportRead(Output):
    """One import: where it stands and what it did."""

    id: int
    """Id of the import"""
    url: str
    """This resource"""
    township_code: str | None
    """Township the rows were imported into (null: each row's own, admin imports)"""
    filename: str
    """The uploaded file's name"""
    size_bytes: int
    """The uploaded file's size"""
    sha256: str
    """Digest of the uploaded bytes"""
    sheet: str | None
    """Worksheet read (workbooks)"""
    dry_run: bool
    """A preview: nothing was written to mentors"""
    on_error: OnError
    """skip_row or reject_file"""
    status: ImportStatus
    """queued, validating, applying, done or failed"""
    rows_total: int | None = Field(description="Data rows in the file, known after validation")
    rows_processed: int
    """Data rows handled so far"""
    counts: ImportCounts
    """Rows per outcome so far"""
    unknown_columns: list[str]
    """Header cells that name no template field (ignored)"""
    error: ImportFailure | None
    """Why the import failed, when it did"""
    created_by: int
    """Account that uploaded it"""
    created_at: datetime
    """When uploaded (UTC)"""
    started_at: datetime | None
    """When a worker started it"""
    finished_at: datetime | None
    """When it ended"""
    errors_url: str
    """Each issue as JSON"""
    errors_csv_url: str
    """The rejected rows as CSV for Excel"""
    rows_url: str
    """Each row's outcome"""


class ImportIssueRead(Output):
    """One problem with one cell (or the whole row)."""

    row_number: int
    """Line in the file (the header is line 1)"""
    column: str | None
    """Template field of the cell; null for the whole row"""
    original_value: str | None
    """The cell as written (erased after the retention period)"""
    code: str
    """Stable machine code, e.g. phone_invalid"""
    severity: Severity
    """error (the row is rejected) or warning (imported anyway)"""
    message_zh: str
    """What is wrong and how to fix it, in Chinese"""
    message_en: str
    """The same in English"""


class ImportRowRead(Output):
    """The outcome of one row; updated rows list the fields that changed."""

    row_number: int
    """Line in the file (the header is line 1)"""
    outcome: Outcome
    """created, updated, unchanged or rejected"""
    mentor_id: int | None
    """The seller the row created or matched"""
    changed_fields: list[str]
    """Fields an update changed"""
