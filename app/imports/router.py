"""Roster import endpoints: upload (202 + a job), status, list, row outcomes, error report (JSON, CSV)."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile, status
from fastapi.responses import JSONResponse, StreamingResponse

from app.deps import OfficeUser, SessionDep, SettingsDep
from app.errors import PayloadTooLarge
from app.i18n import preferred_language
from app.idempotency import IdempotencyKey, remember, replay, request_fingerprint
from app.imports import service
from app.imports.report import error_csv
from app.imports.schemas import (
    ImportAccepted,
    ImportIssueRead,
    ImportRead,
    ImportRowRead,
    OnError,
    Outcome,
    Severity,
)
from app.models.imports import ImportStatus
from app.openapi import problems
from app.pagination import CursorQuery, LimitQuery
from app.query_params import check_form
from app.schemas import IdPath, NoNulStr, Page

router = APIRouter(prefix="/api/v1", tags=["imports"])
_SCOPE = "POST /api/v1/imports"

TownshipForm = Annotated[
    str | None,
    Form(pattern=r"^[0-9]{9}$", description="Admin only: the township the file is for (offices: their own)"),
]


@router.post(
    "/imports",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ImportAccepted,
    responses=problems(401, 403, 413, 422),
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "example": {
                        "file": "外部编号,名称,类型,手机号,行政区划代码,主营产品,可分享资源\r\n",
                        "dry_run": True,
                        "on_error": "skip_row",
                    }
                }
            }
        }
    },
)
def create_import(
    caller: OfficeUser,
    _form: Annotated[None, Depends(check_form)],
    session: SessionDep,
    settings: SettingsDep,
    file: Annotated[
        UploadFile, File(description="Roster: CSV (UTF-8, UTF-8 BOM, GBK/GB18030, UTF-16), XLSX, XLS or ODS")
    ],
    dry_run: Annotated[
        bool, Form(description="Validate and report would-be outcomes; write no mentors")
    ] = False,
    on_error: Annotated[
        OnError, Form(description="skip_row: import the good rows; reject_file: all or nothing")
    ] = "skip_row",
    township: TownshipForm = None,
    sheet: Annotated[
        NoNulStr | None, Form(max_length=64, description="Worksheet (default: first visible with data)")
    ] = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Upload a seller roster; it is validated and applied in the background (202, poll the URL).

    Repeating the upload with the same Idempotency-Key creates nothing new: the answer names the same
    import with its current status and URL (header Idempotent-Replayed: true).
    """
    # The middleware refuses by Content-Length; a chunked upload is only measured here.
    data = file.file.read(settings.import_max_bytes + 1)
    if len(data) > settings.import_max_bytes:
        raise PayloadTooLarge(
            code="file_too_large",
            detail=(
                f"文件超过 {settings.import_max_bytes} 字节的上限",
                f"the file exceeds the limit of {settings.import_max_bytes} bytes",
            ),
            limit_bytes=settings.import_max_bytes,
        )
    params = {"dry_run": dry_run, "on_error": on_error, "township": township or None, "sheet": sheet or None}
    fingerprint = request_fingerprint(hashlib.sha256(data).hexdigest(), file.filename, params)
    replayed = replay(
        session, account_id=caller.id, scope=_SCOPE, key=idempotency_key, fingerprint=fingerprint
    )
    if replayed is not None:
        # A replay answers with the import's CURRENT status (and its URL), not the stored "queued".
        body = service.replay_answer(session, caller, json.loads(bytes(replayed.body)))
        headers = {"Location": body["url"], "Idempotent-Replayed": "true"}
        return JSONResponse(body, status_code=replayed.status_code, headers=headers)
    imp = service.submit_import(
        session,
        caller,
        data=data,
        filename=file.filename or "roster",
        content_type=file.content_type,
        **params,
    )
    body = ImportAccepted(id=imp.id, status=ImportStatus.QUEUED, url=service.import_url(imp.id)).model_dump()
    headers = {"Location": body["url"]}
    remember(
        session,
        account_id=caller.id,
        scope=_SCOPE,
        key=idempotency_key,
        fingerprint=fingerprint,
        status_code=status.HTTP_202_ACCEPTED,
        body=body,
        headers=headers,
    )
    return JSONResponse(body, status_code=status.HTTP_202_ACCEPTED, headers=headers)


@router.get("/imports", response_model=Page[ImportRead], responses=problems(401, 403, 422))
def list_imports(caller: OfficeUser, session: SessionDep, limit: LimitQuery = 50, cursor: CursorQuery = None):
    """Imports you may see (an office: its township's; admin: all), newest first, one cursor page."""
    page = service.list_imports(session, caller, cursor=cursor, limit=limit)
    return {"items": [service.to_read(r) for r in page.items], "next_cursor": page.next_cursor}


@router.get("/imports/{import_id}", response_model=ImportRead, responses=problems(401, 403, 404, 422))
def get_import(import_id: IdPath, caller: OfficeUser, session: SessionDep):
    """One import's status, counts, unknown columns and failure reason (404 if not yours)."""
    return service.to_read(service.get_visible(session, caller, import_id))


@router.get(
    "/imports/{import_id}/errors",
    response_model=Page[ImportIssueRead],
    responses=problems(401, 403, 404, 422),
)
def list_import_errors(
    import_id: IdPath,
    caller: OfficeUser,
    session: SessionDep,
    severity: Annotated[Severity | None, Query(description="Only errors or only warnings")] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
):
    """The import's row issues in file order (row, column, original value, code, zh/en message)."""
    imp = service.get_visible(session, caller, import_id)
    page = service.list_issues(session, imp.id, severity=severity, cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.get(
    "/imports/{import_id}/errors.csv",
    response_class=StreamingResponse,
    responses={**problems(401, 403, 404, 422), 200: {"content": {"text/csv": {}}, "description": "CSV"}},
)
def download_import_errors(import_id: IdPath, caller: OfficeUser, session: SessionDep, request: Request):
    """The rejected rows with their original cells and the reason, as CSV for Excel (UTF-8 BOM)."""
    imp = service.get_visible(session, caller, import_id)
    lang = preferred_language(request.headers.get("accept-language"))
    return StreamingResponse(
        error_csv(request.app.state.sessionmaker, imp.id, lang),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="import-{imp.id}-errors.csv"'},
    )


@router.get(
    "/imports/{import_id}/rows", response_model=Page[ImportRowRead], responses=problems(401, 403, 404, 422)
)
def list_import_rows(
    import_id: IdPath,
    caller: OfficeUser,
    session: SessionDep,
    outcome: Annotated[Outcome | None, Query(description="Only rows with this outcome")] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
):
    """Each row's outcome (created, updated with its changed fields, unchanged, rejected), in file order."""
    imp = service.get_visible(session, caller, import_id)
    page = service.list_rows(session, imp.id, outcome=outcome, cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}
