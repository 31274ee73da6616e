"""The township office: import wizard (upload, dry-run report, apply, errors.csv), past imports, roster."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

from app.access.profiles import MENTORS, shown_phone
from app.console.csrf import UploadToken
from app.console.forms import PageFilter, RosterFilter
from app.console.i18n import console_language, error_text
from app.console.render import label_in, page
from app.console.session import OfficePage
from app.deps import SessionDep as Db
from app.deps import SettingsDep
from app.errors import AppError, PayloadTooLarge
from app.imports import service
from app.imports.report import column_label, error_csv
from app.models import RosterImport
from app.models.imports import FINAL_IMPORT_STATUSES
from app.profiles import service as profiles
from app.profiles.schemas import MentorRead
from app.regions.service import names_of, region_label
from app.schemas import IdPath
from app.taxonomy.service import category_names

router = APIRouter(prefix="/console/office", include_in_schema=False)
REPORT_ROWS = 200
LIST_SIZE = 50


def _imports_page(
    request: Request,
    db: Db,
    caller: OfficePage,
    *,
    error: str | None,
    f: PageFilter | None = None,
    typed: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    """The imports page; after a refused upload, with the reason and the choices made (a browser never
    keeps the chosen file)."""
    cursor = f.cursor if f else None
    paged = service.list_imports(db, caller, cursor=cursor, limit=LIST_SIZE)
    return page(
        request,
        "imports/list.html",
        {
            "imports": [listed(i) for i in paged.items],
            "error": error,
            "cursor": cursor,
            "next_cursor": paged.next_cursor,
            "typed": typed or {},
        },
        caller=caller,
        status_code=status_code,
    )


def listed(imp: RosterImport) -> dict[str, Any]:
    """An import as the console's lists show it: a preview says whether it was applied since."""
    return {**service.to_read(imp), "applied_as_id": imp.applied_as_id}


@router.get("/imports")
def imports(request: Request, caller: OfficePage, db: Db, f: Annotated[PageFilter, Query()]) -> Response:
    """Past imports with their status, a page at a time, and the upload form (step 1 of the wizard)."""
    return _imports_page(request, db, caller, error=None, f=f)


@router.post("/imports")
def upload(
    request: Request,
    caller: OfficePage,
    db: Db,
    settings: SettingsDep,
    _csrf: UploadToken,
    file: Annotated[UploadFile, File()],
    on_error: Annotated[str, Form(pattern="^(skip_row|reject_file)$")] = "skip_row",
    township: Annotated[str, Form(max_length=9)] = "",
    sheet: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Step 2: store the file and run it as a dry run; the report page follows its progress."""
    data = file.file.read(settings.import_max_bytes + 1)
    try:
        if len(data) > settings.import_max_bytes:
            raise PayloadTooLarge(code="file_too_large", limit_bytes=settings.import_max_bytes)
        imp = service.submit_import(
            db,
            caller,
            township=township or None,
            data=data,
            filename=file.filename or "roster",
            content_type=file.content_type,
            sheet=sheet.strip() or None,
            dry_run=True,
            on_error=on_error,
        )
    except AppError as exc:
        db.rollback()
        msg = error_text(exc, console_language(request))
        typed = {"on_error": on_error, "township": township, "sheet": sheet}
        return _imports_page(request, db, caller, error=msg, typed=typed, status_code=exc.status)
    return RedirectResponse(f"/console/office/imports/{imp.id}", status_code=303)


@router.get("/imports/{import_id}")
def report(
    request: Request, import_id: IdPath, caller: OfficePage, db: Db, f: Annotated[PageFilter, Query()]
) -> Response:
    """Step 3: the row-by-row report, a page at a time, each error in the office's language and under the
    file's own column names; apply or download."""
    imp = service.get_visible(db, caller, import_id)
    paged = service.list_rows(db, imp.id, outcome=None, cursor=f.cursor, limit=REPORT_ROWS)
    rows = paged.items
    issues = service.issues_of_rows(db, imp.id, rows[0].row_number, rows[-1].row_number) if rows else {}
    # Only the labels the import kept: a page view never parses the stored workbook (errors.csv may,
    # once, for an import stored before they were kept).
    labels = dict(imp.column_labels or [])
    lang = console_language(request)
    return page(
        request,
        "imports/report.html",
        {
            "imp": service.to_read(imp),
            "applied_as": service.applied_import(db, imp),
            "rows": rows,
            "issues": issues,
            "finished": imp.status in FINAL_IMPORT_STATUSES,
            "column": lambda name: column_label(labels, name, lang),
            "cursor": f.cursor,
            "next_cursor": paged.next_cursor,
        },
        caller=caller,
    )


@router.get("/imports/{import_id}/status.json")
def report_status(request: Request, import_id: IdPath, caller: OfficePage, db: Db) -> JSONResponse:
    """What the report page polls while the import works."""
    imp = service.get_visible(db, caller, import_id)
    total = imp.rows_total or 0
    return JSONResponse(
        {
            "status": imp.status,
            "status_label": label_in("status", imp.status, console_language(request)),
            "progress": (imp.rows_processed / total) if total else 0.0,
            "finished": imp.status in FINAL_IMPORT_STATUSES,
        }
    )


@router.post("/imports/{import_id}/apply")
def apply(import_id: IdPath, caller: OfficePage, db: Db) -> Response:
    """Step 4: apply the previewed file for real (idempotent: the same file changes nothing twice)."""
    imp = service.apply_previewed(db, caller, import_id)
    return RedirectResponse(f"/console/office/imports/{imp.id}", status_code=303)


@router.get("/imports/{import_id}/errors.csv")
def errors_csv(request: Request, import_id: IdPath, caller: OfficePage, db: Db) -> StreamingResponse:
    """The rejected rows and their reasons, in the office's language, as CSV for Excel."""
    imp = service.get_visible(db, caller, import_id)
    return StreamingResponse(
        error_csv(request.app.state.sessionmaker, imp.id, console_language(request)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="import-{imp.id}-errors.csv"'},
    )


@router.get("/roster")
def roster(request: Request, caller: OfficePage, db: Db, f: Annotated[RosterFilter, Query()]) -> Response:
    """The township's sellers, searchable by name or story, 50 a page."""
    flt = profiles.ProfileFilter(region=None, category=None, resource=None, q=f.q, active=True)
    paged = profiles.list_profiles(db, MENTORS, caller, flt, f.cursor, 50)
    rows, next_cursor = paged.items, paged.next_cursor
    return page(
        request,
        "imports/roster.html",
        {
            "rows": [MentorRead.of(p, phone=shown_phone(MENTORS, caller, p)) for p in rows],
            "names": names_of(db, {p.region_code for p in rows}),
            "f": f,
            "next_cursor": next_cursor,
        },
        caller=caller,
    )


@router.get("/sellers/{profile_id}")
def seller(request: Request, profile_id: IdPath, caller: OfficePage, db: Db) -> Response:
    """One seller of the township (404 for anyone else's)."""
    profile = profiles.get_visible(db, MENTORS, caller, profile_id)
    return page(
        request,
        "imports/seller.html",
        {
            "p": MentorRead.of(profile, phone=shown_phone(MENTORS, caller, profile)),
            "region": region_label(db, profile.region_code),
            "categories": category_names(db, {product.category_code for product in profile.products}),
        },
        caller=caller,
    )
