"""Roster-import rules for the API and the CLI: accept an upload, authorise, list, read reports.

Services add and flush; the request's session (or the CLI's transaction) commits.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.access import Caller
from app.access.imports import import_scope, office_township, sees_import
from app.errors import Conflict, NotFound, Unprocessable
from app.imports.read.decoding import SNIFF_BYTES, RosterFileError, detect_format
from app.jobs.queue import enqueue
from app.models import ImportRowIssue, ImportRowResult, Region, RosterFile, RosterImport
from app.models.imports import ImportStatus
from app.pagination import Paged, asc, desc, paginate

JOB_KIND: Final = "roster_import"


def import_url(import_id: int) -> str:
    """Where an import's status lives."""
    return f"/api/v1/imports/{import_id}"


def target_township(session: Session, caller: Caller, township: str | None) -> str | None:
    """The township an import is for: an office's own; an admin's choice, or None (rows say)."""
    own = office_township(caller)
    if own is not None:
        if len(own) != 9:
            raise Unprocessable(
                code="office_without_township",
                detail=("乡镇账号未设置所辖乡镇", "this office account has no township jurisdiction"),
            )
        if township not in (None, "", own):
            raise Unprocessable(
                code="region_outside_jurisdiction",
                detail=(f"只能导入本乡镇（{own}）的名单", f"an office imports only its own township ({own})"),
            )
        return own
    if not township:
        return None
    region = session.get(Region, township)
    if region is None or region.level != "township":
        raise Unprocessable(
            code="township_not_found",
            detail=(f"乡镇代码 {township} 不存在", f"no township {township}"),
        )
    return township


def upload_name(filename: str | None) -> str:
    """The name an upload is shown and stored under: its last path part, without control characters.

    The multipart filename is the client's text: NUL (which PostgreSQL refuses in text), line breaks,
    bidi overrides that make "名单\u202excsv.exe" look like a CSV, or a whole "C:\\fakepath\\..." path.
    """
    visible = "".join(ch for ch in filename or "" if unicodedata.category(ch)[0] != "C")
    base = visible.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return base[:255] or "roster"


def upload_type(content_type: str | None) -> str | None:
    """The declared media type, if it is plain header text (anything else is dropped, not stored)."""
    text = (content_type or "").strip()
    return text[:128] if text and text.isascii() and text.isprintable() else None


def create_import(
    session: Session,
    *,
    created_by: int,
    township: str | None,
    data: bytes,
    filename: str,
    content_type: str | None,
    sheet: str | None,
    dry_run: bool,
    on_error: str,
) -> RosterImport:
    """Store the upload and its import row (status queued); the caller decides how it runs."""
    imp = RosterImport(
        township_code=township,
        created_by=created_by,
        filename=upload_name(filename),
        content_type=upload_type(content_type),
        sheet=sheet[:64] if sheet else None,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        dry_run=dry_run,
        on_error=on_error,
        status=ImportStatus.QUEUED,
        rows_processed=0,
        checkpoint_row=0,
        created_count=0,
        updated_count=0,
        unchanged_count=0,
        rejected_count=0,
        unknown_columns=[],
    )
    session.add(imp)
    session.flush()
    session.add(RosterFile(import_id=imp.id, data=data))
    session.flush()
    return imp


def refuse_unreadable(
    data: bytes, *, filename: str | None, content_type: str | None, sheet: str | None = None
) -> None:
    """422 now for what the first bytes already tell: an empty file, a PDF or an image, a web page
    named .xls, a ".xlsx" that is no zip, a worksheet named for a CSV file. Nothing in such a file could
    be imported as asked, so the office hears it on upload instead of from a job a moment later."""
    try:
        kind = detect_format(data[:SNIFF_BYTES], filename=filename, content_type=content_type)
    except RosterFileError as exc:
        raise Unprocessable(code=exc.code, detail=(exc.message_zh, exc.message_en)) from exc
    if kind == "csv" and sheet:
        # Reading the CSV anyway would import a file the office believes is one sheet of a workbook.
        raise Unprocessable(
            code="sheet_not_in_csv",
            detail=(
                f"CSV 文件没有工作表，不能按“{sheet}”读取；请上传该工作簿，或不填工作表。",
                f"A CSV file has no worksheets to read {sheet!r} from: upload the workbook, or leave the "
                "sheet out.",
            ),
        )


def submit_import(
    session: Session,
    caller: Caller,
    *,
    township: str | None,
    data: bytes,
    filename: str,
    content_type: str | None,
    **options: Any,
) -> RosterImport:
    """Accept an upload from the API and queue its job in the same transaction."""
    refuse_unreadable(data, filename=filename, content_type=content_type, sheet=options.get("sheet"))
    imp = create_import(
        session,
        created_by=caller.id,
        township=target_township(session, caller, township),
        data=data,
        filename=filename,
        content_type=content_type,
        **options,
    )
    enqueue(session, kind=JOB_KIND, ref_id=imp.id)
    return imp


def replay_answer(session: Session, caller: Caller, first: dict[str, Any]) -> dict[str, Any]:
    """The answer to a replayed upload: the first answer's import, with its current status and URL."""
    imp = get_visible(session, caller, int(first["id"]))
    return {**first, "id": imp.id, "status": imp.status, "url": import_url(imp.id)}


def apply_previewed(session: Session, caller: Caller, import_id: int) -> RosterImport:
    """Apply a finished dry run for real: the same stored file, township and options, as a new import.

    A preview is applied once: applying it again (a double click, a resent form) answers the import it
    already became, unless that one failed, when the file is queued anew.
    """
    preview = get_visible(session, caller, import_id)
    # Two clicks in flight: the second waits here for the first's commit (SQLite: its write lock already).
    session.refresh(preview, with_for_update=True)
    if (applied := applied_import(session, preview)) is not None:
        return applied
    if not preview.dry_run or preview.status != "done":
        raise Conflict(
            code="not_a_finished_preview",
            detail=("只能确认已完成的预览", "only a finished dry run can be applied"),
        )
    stored = session.get(RosterFile, preview.id)
    if stored is None:
        raise NotFound()
    applied = submit_import(
        session,
        caller,
        township=preview.township_code,
        data=stored.data,
        filename=preview.filename,
        content_type=preview.content_type,
        sheet=preview.sheet,
        dry_run=False,
        on_error=preview.on_error,
    )
    preview.applied_as_id = applied.id
    session.flush()
    return applied


def applied_import(session: Session, preview: RosterImport) -> RosterImport | None:
    """The import a preview became, while it stands: one that failed leaves the preview to apply again."""
    if preview.applied_as_id is None:
        return None
    applied = session.get(RosterImport, preview.applied_as_id)
    return applied if applied is not None and applied.status != ImportStatus.FAILED else None


def get_visible(session: Session, caller: Caller, import_id: int) -> RosterImport:
    """An import the caller may see; any other is a 404."""
    imp = session.get(RosterImport, import_id)
    if imp is None or not sees_import(caller, imp):
        raise NotFound()
    return imp


def list_imports(session: Session, caller: Caller, *, cursor: str | None, limit: int) -> Paged[RosterImport]:
    """The caller's visible imports, newest first, one keyset page."""
    stmt = select(RosterImport).where(import_scope(caller))
    return paginate(session, stmt, [desc(RosterImport.id)], cursor, limit)


def list_issues(
    session: Session, import_id: int, *, severity: str | None, cursor: str | None, limit: int
) -> Paged[ImportRowIssue]:
    """An import's row issues in file order, one keyset page."""
    stmt = select(ImportRowIssue).where(ImportRowIssue.import_id == import_id)
    if severity:
        stmt = stmt.where(ImportRowIssue.severity == severity)
    return paginate(session, stmt, [asc(ImportRowIssue.id)], cursor, limit)


def issues_of_rows(
    session: Session, import_id: int, first: int, last: int
) -> dict[int, list[ImportRowIssue]]:
    """The issues of rows `first` to `last` of an import (one page of its report), by row number."""
    stmt = (
        select(ImportRowIssue)
        .where(ImportRowIssue.import_id == import_id, ImportRowIssue.row_number.between(first, last))
        .order_by(ImportRowIssue.row_number, ImportRowIssue.id)
    )
    found: dict[int, list[ImportRowIssue]] = {}
    for issue in session.scalars(stmt):
        found.setdefault(issue.row_number, []).append(issue)
    return found


def list_rows(
    session: Session, import_id: int, *, outcome: str | None, cursor: str | None, limit: int
) -> Paged[ImportRowResult]:
    """An import's row outcomes in file order, one keyset page."""
    stmt = select(ImportRowResult).where(ImportRowResult.import_id == import_id)
    if outcome:
        stmt = stmt.where(ImportRowResult.outcome == outcome)
    return paginate(session, stmt, [asc(ImportRowResult.row_number)], cursor, limit)


def _failure(imp: RosterImport) -> dict[str, str] | None:
    # While a reject_file import is still writing its report, the code is only a marker.
    if imp.status != "failed" or not imp.error_code:
        return None
    try:
        detail = json.loads(imp.error_detail or "{}")
    except ValueError:
        detail = {"zh": imp.error_detail or "", "en": imp.error_detail or ""}
    return {"code": imp.error_code, "message_zh": detail.get("zh", ""), "message_en": detail.get("en", "")}


def to_read(imp: RosterImport) -> dict[str, Any]:
    """The response fields of an import."""
    url = import_url(imp.id)
    return {
        "id": imp.id,
        "url": url,
        "township_code": imp.township_code,
        "filename": imp.filename,
        "size_bytes": imp.size_bytes,
        "sha256": imp.sha256,
        "sheet": imp.sheet,
        "dry_run": imp.dry_run,
        "on_error": imp.on_error,
        "status": imp.status,
        "rows_total": imp.rows_total,
        "rows_processed": imp.rows_processed,
        "counts": {
            "created": imp.created_count,
            "updated": imp.updated_count,
            "unchanged": imp.unchanged_count,
            "rejected": imp.rejected_count,
        },
        "unknown_columns": imp.unknown_columns or [],
        "error": _failure(imp),
        "created_by": imp.created_by,
        "created_at": imp.created_at,
        "started_at": imp.started_at,
        "finished_at": imp.finished_at,
        "errors_url": f"{url}/errors",
        "errors_csv_url": f"{url}/errors.csv",
        "rows_url": f"{url}/rows",
    }
