"""Honours: evaluate the rules for a period, confirm or revoke what was proposed, the certificate PDF."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from app.access import Caller
from app.console import report_views
from app.console.forms import HonourFilter
from app.console.i18n import console_language, error_text, form_error_text
from app.console.render import page
from app.console.session import CoordinatorPage
from app.deps import SessionDep as Db
from app.deps import public_site
from app.errors import AppError, Conflict
from app.honours import rules, service
from app.honours.schemas import EvaluateRequest
from app.regions.service import names_of
from app.schemas import FORM_INPUT, IdPath

router = APIRouter(prefix="/console/honours", include_in_schema=False)
PAGE_SIZE = 50


def _list_page(
    request: Request,
    db: Db,
    caller: Caller,
    f: HonourFilter,
    *,
    form: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    lang = console_language(request)
    paged = service.honour_views(db, caller=caller, status=f.status, cursor=f.cursor, limit=PAGE_SIZE)
    done = (
        service.get_honour(db, caller=caller, honour_id=f.done_id)
        if f.done in ("confirmed", "revoked") and f.done_id
        else None
    )
    return page(
        request,
        "honours/list.html",
        {
            "views": paged.items,
            "next_cursor": paged.next_cursor,
            "names": names_of(db, {v.honour.jurisdiction_code for v in paged.items}),
            "f": f,
            "done": done,
            "form": form or {},
            "error": error,
            "rules": rules.RULES,
            "rules_version": rules.RULES_VERSION,
            "rule_text": lambda rule: report_views.rule_text(rule, lang),
            "figures": lambda values: report_views.figures(values, lang),
        },
        caller=caller,
        status_code=status_code,
    )


@router.get("")
def list_honours(
    request: Request, caller: CoordinatorPage, db: Db, f: Annotated[HonourFilter, Query()]
) -> Response:
    """Honours of your jurisdiction, newest first, and the form that evaluates the rules for a period."""
    return _list_page(request, db, caller, f)


@router.post("/evaluate")
def evaluate(
    request: Request,
    caller: CoordinatorPage,
    db: Db,
    period_start: Annotated[str, Form(max_length=10)] = "",
    period_end: Annotated[str, Form(max_length=10)] = "",
    region: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    """Propose the honours mentors earned in a period, with the API's body model and rules."""
    form = {"period_start": period_start, "period_end": period_end, "region": region}
    lang = console_language(request)
    try:
        body = EvaluateRequest.model_validate(
            {"period_start": period_start, "period_end": period_end, "region": region or None},
            context=FORM_INPUT,
        )
        proposed = service.evaluate(
            db, caller=caller, region=body.region, period_start=body.period_start, period_end=body.period_end
        )
    except ValidationError as exc:
        msg = form_error_text(exc, console_language(request))
        return _list_page(request, db, caller, HonourFilter(), form=form, error=msg, status_code=422)
    except AppError as exc:
        db.rollback()
        return _list_page(
            request,
            db,
            caller,
            HonourFilter(),
            form=form,
            error=error_text(exc, lang),
            status_code=exc.status,
        )
    return RedirectResponse(
        f"/console/honours?status=proposed&done=evaluated&proposed={len(proposed)}", status_code=303
    )


def _refused(request: Request, db: Db, caller: Caller, exc: AppError) -> Response:
    # Decided already (by a colleague, or in another tab): the list as it is now, with the reason.
    db.rollback()
    lang = console_language(request)
    return _list_page(
        request, db, caller, HonourFilter(), error=error_text(exc, lang), status_code=exc.status
    )


@router.post("/{honour_id}/confirm")
def confirm(request: Request, honour_id: IdPath, caller: CoordinatorPage, db: Db) -> Response:
    """Confirm a proposed honour: it gets its verification code and joins the mentor's profile."""
    try:
        service.confirm(db, caller=caller, honour_id=honour_id)
    except Conflict as exc:
        return _refused(request, db, caller, exc)
    return RedirectResponse(
        f"/console/honours?status=confirmed&done=confirmed&done_id={honour_id}", status_code=303
    )


@router.post("/{honour_id}/revoke")
def revoke(request: Request, honour_id: IdPath, caller: CoordinatorPage, db: Db) -> Response:
    """Revoke an honour: its code stops verifying and it leaves the profile."""
    try:
        service.revoke(db, caller=caller, honour_id=honour_id)
    except Conflict as exc:
        return _refused(request, db, caller, exc)
    return RedirectResponse(f"/console/honours?done=revoked&done_id={honour_id}", status_code=303)


@router.get("/{honour_id}/certificate")
def certificate(request: Request, honour_id: IdPath, caller: CoordinatorPage, db: Db) -> Response:
    """The certificate of a confirmed honour as a PDF (the same document the API serves)."""
    site = public_site(request)
    honour, pdf = service.certificate_pdf(db, caller=caller, honour_id=honour_id, site=site)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="certificate-{honour.verification_code}.pdf"'},
    )
