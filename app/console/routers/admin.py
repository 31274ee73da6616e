"""Admin: staff accounts (create with a jurisdiction, deactivate, reset a password) and background jobs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from app.access import Caller
from app.accounts import service as accounts
from app.accounts.schemas import StaffAccountCreate
from app.console.forms import PageFilter
from app.console.i18n import console_language, error_text, form_error_text
from app.console.render import page
from app.console.session import AdminPage
from app.deps import SessionDep as Db
from app.errors import AppError
from app.jobs.queue import recent_jobs
from app.regions.service import names_of
from app.schemas import FORM_INPUT, IdPath, NoNulStr

router = APIRouter(prefix="/console/admin", include_in_schema=False)


PAGE_SIZE = 50


def _accounts_page(
    request: Request,
    db: Db,
    caller: AdminPage,
    *,
    f: PageFilter | None = None,
    error: str | None = None,
    typed: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    """The accounts page; after a refused new account, with the reason and the form as typed (no password)."""
    cursor = f.cursor if f else None
    paged = accounts.list_accounts(db, role=None, cursor=cursor, limit=PAGE_SIZE)
    context = {
        "accounts": paged.items,
        "names": names_of(db, {a.jurisdiction_code for a in paged.items if a.jurisdiction_code}),
        "cursor": cursor,
        "next_cursor": paged.next_cursor,
        "error": error,
    }
    return page(
        request,
        "admin/accounts.html",
        {**context, "typed": typed or {}},
        caller=caller,
        status_code=status_code,
    )


def _message(request: Request, exc: AppError) -> str:
    return error_text(exc, console_language(request))


@router.get("/accounts")
def list_accounts(request: Request, caller: AdminPage, db: Db, f: Annotated[PageFilter, Query()]) -> Response:
    """Accounts, a page at a time, and the form to create a staff account."""
    return _accounts_page(request, db, caller, f=f)


@router.post("/accounts")
def create_account(
    request: Request,
    caller: AdminPage,
    db: Db,
    # Only lengths here: a value the rules refuse comes back on the page with its message and the form
    # as typed, from the body model below (a rule on the field itself would end on the bare 422 page).
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=128)] = "",
    role: Annotated[str, Form(max_length=32)] = "",
    display_name: Annotated[str, Form(max_length=64)] = "",
    jurisdiction_code: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    """Create a staff account with its jurisdiction (the same rules as the API)."""
    # The API's own body model: its rules (no NUL, trimmed names, region-code form) hold here too, so a
    # form field PostgreSQL cannot store is a 422 on the page, not a 500.
    typed = {
        "username": username,
        "display_name": display_name,
        "role": role,
        "jurisdiction_code": jurisdiction_code,
    }
    try:
        body = StaffAccountCreate.model_validate(
            {
                "username": username,
                "password": password,
                "role": role,
                "display_name": display_name,
                "jurisdiction_code": jurisdiction_code or None,
            },
            context=FORM_INPUT,
        )
    except ValidationError as exc:
        msg = form_error_text(exc, console_language(request))
        return _accounts_page(request, db, caller, error=msg, typed=typed, status_code=422)
    try:
        accounts.create_staff_account(
            db,
            username=body.username,
            password=body.password,
            role=body.role,
            display_name=body.display_name,
            jurisdiction_code=body.jurisdiction_code,
        )
    except AppError as exc:
        db.rollback()
        message = _message(request, exc)
        return _accounts_page(request, db, caller, error=message, typed=typed, status_code=exc.status)
    return RedirectResponse("/console/admin/accounts?saved=1", status_code=303)


def _set_active(db: Session, caller: Caller, account_id: int, active: bool) -> Response:
    account = accounts.get_account(db, account_id)
    accounts.update_account(
        db,
        account,
        is_active=active,
        jurisdiction_code=None,
        display_name=None,
        fields={"is_active"},
        actor_id=caller.id,
    )
    return RedirectResponse("/console/admin/accounts?saved=1", status_code=303)


@router.post("/accounts/{account_id}/deactivate")
def deactivate(account_id: IdPath, caller: AdminPage, db: Db) -> Response:
    """Deactivate: the account's sessions end on their next request."""
    return _set_active(db, caller, account_id, False)


@router.post("/accounts/{account_id}/reactivate")
def reactivate(account_id: IdPath, caller: AdminPage, db: Db) -> Response:
    """Turn a deactivated account back on: its owner signs in again (old sessions stay ended)."""
    return _set_active(db, caller, account_id, True)


@router.post("/accounts/{account_id}/password")
def reset_password(
    request: Request,
    account_id: IdPath,
    caller: AdminPage,
    db: Db,
    password: Annotated[NoNulStr, Form(max_length=128)],
) -> Response:
    """Set a new password; the account's logins end."""
    account = accounts.get_account(db, account_id)
    try:
        accounts.reset_password(db, account, password=password)
    except AppError as exc:
        db.rollback()
        return _accounts_page(request, db, caller, error=_message(request, exc), status_code=exc.status)
    return RedirectResponse("/console/admin/accounts?saved=1", status_code=303)


@router.get("/jobs")
def jobs(request: Request, caller: AdminPage, db: Db) -> Response:
    """Background jobs with their status and errors."""
    return page(request, "admin/jobs.html", {"jobs": recent_jobs(db, limit=100)}, caller=caller)
