"""The review queue: filtered and paged list, the proposal page, approve and reject (ETag handled)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from app.access import Caller
from app.console.forms import QueueFilter
from app.console.i18n import console_language, error_text, form_error_text, word
from app.console.render import page
from app.console.session import CoordinatorPage
from app.deps import SessionDep as Db
from app.errors import AppError, Conflict, PreconditionFailed
from app.etags import etag
from app.models.matches import MatchStatus
from app.pagination import Paged, encode_cursor
from app.proposals import service as review
from app.proposals.schemas import ApproveRequest, ProposalRead, RejectReason, RejectRequest
from app.regions.service import names_of
from app.schemas import FORM_INPUT, IdPath
from app.taxonomy.service import categories_at, category_names
from matching import vocab

router = APIRouter(prefix="/console/proposals", include_in_schema=False)
PAGE_SIZE = 50
REJECT_REASONS = RejectReason.__args__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Typed:
    """What the coordinator typed into the decision forms, shown again when the decision is refused."""

    note: str = ""
    commitments: list[dict[str, Any]] | None = None
    reason_code: str = ""
    reject_note: str = ""


def _suggested(suggestions: list[dict[str, Any]], lang: str) -> list[dict[str, Any]]:
    """The model's suggested commitments as the form's fields, described in the page's language."""
    return [
        {
            **c,
            "description": c["description_en"]
            if lang != "zh-CN" and c.get("description_en")
            else c["description"],
        }
        for c in suggestions
    ]


def _queue(db: Db, caller: Caller, f: QueueFilter, cursor: str | None, limit: int) -> Paged[Any]:
    shown = review.ProposalFilter(
        status=MatchStatus.PROPOSED,
        region=f.county,
        category=f.category,
        min_score=f.min_score,
        max_distance_km=f.max_distance,
        run_id=f.run,
    )
    return review.review_queue(db, caller, shown, sort="-score", cursor=cursor, limit=limit)


def _filter_params(f: QueueFilter) -> dict[str, Any]:
    return {k: v for k, v in f.model_dump(exclude={"cursor"}).items() if v is not None}


def _filter_query(f: QueueFilter) -> str:
    return urlencode(_filter_params(f))


@router.get("")
def queue(request: Request, caller: CoordinatorPage, db: Db, f: Annotated[QueueFilter, Query()]) -> Response:
    """Pending proposals in your jurisdiction, best score first, 50 a page."""
    paged = _queue(db, caller, f, f.cursor, PAGE_SIZE)
    views, next_cursor = paged.items, paged.next_cursor
    names = names_of(
        db, {v.match.newcomer_county_code for v in views} | {v.match.mentor_county_code for v in views}
    )
    return page(
        request,
        "review/queue.html",
        {
            "rows": [(v.match, v.mentor, v.newcomer) for v in views],
            "names": names,
            "f": f,
            "filter_query": _filter_query(f),
            "next_cursor": next_cursor,
            "categories": categories_at(db, level=1),
        },
        caller=caller,
    )


def _proposal_page(
    request: Request,
    db: Db,
    caller: Caller,
    proposal_id: int,
    f: QueueFilter,
    *,
    notice: str | None = None,
    error: str | None = None,
    typed: Typed | None = None,
    status_code: int = 200,
) -> Response:
    """The proposal page; after a refused decision, with the refusal and the form as it was typed."""
    view = review.reviewable(db, caller, proposal_id)
    lang = console_language(request)
    record = review.track_records(db, [view.mentor])[view.mentor.id]
    body = ProposalRead.of(view, record)
    names = names_of(db, {view.match.newcomer_county_code, view.match.mentor_county_code})
    # "Next" is resolved when it is followed (/next), so the page pays no second queue query.
    after = encode_cursor([view.match.score, view.match.id])
    next_query = urlencode({**_filter_params(f), "cursor": after})
    return page(
        request,
        "review/proposal.html",
        {
            "m": view.match,
            "body": body,
            "mentor": view.mentor,
            "newcomer": view.newcomer,
            "record": record.outcomes,
            "categories": category_names(db, {*body.mentor.products, *body.newcomer.products}),
            "names": names,
            "filter_query": _filter_query(f),
            "reject_reasons": REJECT_REASONS,
            "resource_types": vocab.RESOURCE_TYPES,
            "areas": vocab.AREAS,
            "next_query": next_query,
            "notice": notice,
            "error": error,
            "commitments": (
                typed.commitments
                if typed is not None and typed.commitments is not None
                else _suggested(view.match.suggested_commitments, lang)
            ),
            "typed": typed or Typed(),
        },
        caller=caller,
        status_code=status_code,
    )


@router.get("/next")
def next_proposal(caller: CoordinatorPage, db: Db, f: Annotated[QueueFilter, Query()]) -> Response:
    """The proposal after `cursor` in the filtered queue, or the queue itself when none is left."""
    nxt = _queue(db, caller, f, f.cursor, 1).items
    if not nxt:
        return _redirect("/console/proposals", f, done="end_of_queue")
    return _redirect(f"/console/proposals/{nxt[0].match.id}", f)


@router.get("/{proposal_id}")
def proposal(
    request: Request, proposal_id: IdPath, caller: CoordinatorPage, db: Db, f: Annotated[QueueFilter, Query()]
) -> Response:
    """Both profiles side by side, reasons, score parts, distance, editable commitments, the decision."""
    return _proposal_page(request, db, caller, proposal_id, f)


def _redirect(target: str, f: QueueFilter, **flash: Any) -> Response:
    """303 to a queue page, keeping the filters and adding a one-time notice."""
    query = urlencode({**_filter_params(f), **flash})
    return RedirectResponse(f"{target}?{query}" if query else target, status_code=303)


def _after_decision(db: Db, caller: Caller, proposal_id: int, f: QueueFilter, done: str) -> Response:
    """Go on to the next proposal of the same queue (the one just decided has left it)."""
    nxt = _queue(db, caller, f, None, 1).items
    target = f"/console/proposals/{nxt[0].match.id}" if nxt else "/console/proposals"
    return _redirect(target, f, done=done, done_id=proposal_id)


def _refused(
    request: Request, db: Db, caller: Caller, proposal_id: int, f: QueueFilter, exc: AppError, typed: Typed
) -> Response:
    """A decision the service refused. Someone else decided first (or changed the proposal): show it as
    it is now. Any other refusal (the mentor's seats are taken, a party left): say why, keep the form."""
    db.rollback()
    if isinstance(exc, PreconditionFailed) or exc.code == "invalid_transition":
        return _proposal_page(
            request, db, caller, proposal_id, f, notice="decided_elsewhere", status_code=409
        )
    message = error_text(exc, console_language(request))
    return _proposal_page(
        request, db, caller, proposal_id, f, error=message, typed=typed, status_code=exc.status
    )


@router.post("/{proposal_id}/approve")
def approve(
    request: Request,
    proposal_id: IdPath,
    caller: CoordinatorPage,
    db: Db,
    f: Annotated[QueueFilter, Query()],
    version: Annotated[int, Form(ge=1)],
    note: Annotated[str, Form(max_length=1000)] = "",
    resource_type: Annotated[list[str] | None, Form()] = None,
    area: Annotated[list[str] | None, Form()] = None,
    description: Annotated[list[str] | None, Form()] = None,
    cadence_days: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Approve with the commitments as edited; a stale version says who was first instead of failing."""
    fields = zip(resource_type or [], area or [], description or [], cadence_days or [], strict=False)
    rows = [{"resource_type": r, "area": a, "description": d, "cadence_days": c} for r, a, d, c in fields]
    typed = Typed(note=note, commitments=rows if resource_type else None)
    kept = [row for row in rows if row["description"].strip()]
    if resource_type and not kept:
        # Every description cleared: approving would have kept all the suggestions instead.
        message = word("commitment_required", console_language(request))
        return _proposal_page(
            request, db, caller, proposal_id, f, error=message, typed=typed, status_code=422
        )
    try:
        body = ApproveRequest.model_validate(
            {"commitments": kept or None, "note": note or None}, context=FORM_INPUT
        )
    except ValidationError as exc:
        msg = form_error_text(exc, console_language(request))
        return _proposal_page(request, db, caller, proposal_id, f, error=msg, typed=typed, status_code=422)
    commitments = [c.model_dump() for c in body.commitments] if body.commitments is not None else None
    try:
        review.approve(
            db, caller, proposal_id, if_match=etag(version), commitments=commitments, note=body.note
        )
    except (PreconditionFailed, Conflict) as exc:
        return _refused(request, db, caller, proposal_id, f, exc, typed)
    return _after_decision(db, caller, proposal_id, f, "approved")


@router.post("/{proposal_id}/reject")
def reject(
    request: Request,
    proposal_id: IdPath,
    caller: CoordinatorPage,
    db: Db,
    f: Annotated[QueueFilter, Query()],
    version: Annotated[int, Form(ge=1)],
    # Not required here: a missing reason comes back on the page with the note kept (RejectRequest).
    reason_code: Annotated[str, Form(max_length=32)] = "",
    note: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Reject with a reason code; a stale version says who was first instead of failing."""
    typed = Typed(reason_code=reason_code, reject_note=note)
    try:
        body = RejectRequest.model_validate(
            {"reason_code": reason_code or None, "note": note or None}, context=FORM_INPUT
        )
    except ValidationError as exc:
        msg = form_error_text(exc, console_language(request))
        return _proposal_page(request, db, caller, proposal_id, f, error=msg, typed=typed, status_code=422)
    try:
        review.reject(
            db, caller, proposal_id, if_match=etag(version), reason_code=body.reason_code, note=body.note
        )
    except (PreconditionFailed, Conflict) as exc:
        return _refused(request, db, caller, proposal_id, f, exc, typed)
    return _after_decision(db, caller, proposal_id, f, "rejected")
