"""Matches: the list, each timeline, commitments and check-ins, reporting for a party without an account."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from app.access.matches import load_view
from app.console.forms import MatchFilter
from app.console.i18n import console_language, form_error_text
from app.console.render import page
from app.console.session import CoordinatorPage
from app.deps import SessionDep as Db
from app.matches import commitments
from app.matches import service as lifecycle
from app.matches.schemas import CheckInCreate, Party
from app.models.matches import CHECK_IN_OUTCOMES, MatchStatus
from app.proposals import service as review
from app.regions.service import names_of
from app.schemas import FORM_INPUT, IdPath

router = APIRouter(prefix="/console/matches", include_in_schema=False)


@router.get("")
def list_matches(
    request: Request, caller: CoordinatorPage, db: Db, f: Annotated[MatchFilter, Query()]
) -> Response:
    """Matches in your jurisdiction by status, newest first."""
    shown = review.ProposalFilter(status=MatchStatus(f.status), overdue_only=f.overdue)
    paged = review.review_queue(db, caller, shown, sort="-created", cursor=f.cursor, limit=50)
    views, next_cursor = paged.items, paged.next_cursor
    return page(
        request,
        "matches/list.html",
        {
            "rows": [(v.match, v.mentor, v.newcomer) for v in views],
            "f": f,
            "next_cursor": next_cursor,
            "statuses": ("approved", "active", "completed", "cancelled", "declined", "rejected"),
        },
        caller=caller,
    )


def _match_page(
    request: Request,
    db: Db,
    caller: CoordinatorPage,
    match_id: int,
    *,
    error: str | None = None,
    typed: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    """A match's page; after a refused check-in, with the reason and the form as typed."""
    view = load_view(db, caller, match_id)
    timeline = lifecycle.transitions_of(db, caller, match_id)
    items = commitments.list_for_match(db, caller, match_id)
    return page(
        request,
        "matches/match.html",
        {
            "m": view.match,
            "mentor": view.mentor,
            "newcomer": view.newcomer,
            "timeline": timeline,
            "commitments": [(c.commitment, c.overdue) for c in items],
            "check_ins": commitments.check_ins_for_match(db, caller, match_id),
            "outcomes": CHECK_IN_OUTCOMES,
            "names": names_of(db, {view.match.newcomer_county_code, view.match.mentor_county_code}),
            "error": error,
            "typed": typed or {},
        },
        caller=caller,
        status_code=status_code,
    )


@router.get("/{match_id}")
def match(request: Request, match_id: IdPath, caller: CoordinatorPage, db: Db) -> Response:
    """One match: timeline (its audit log), commitments, check-ins."""
    return _match_page(request, db, caller, match_id)


@router.post("/{match_id}/check-ins")
def report_check_in(
    request: Request,
    match_id: IdPath,
    caller: CoordinatorPage,
    db: Db,
    commitment_id: Annotated[int, Form(ge=1)],
    on_behalf_of: Annotated[Party, Form()],
    outcome: Annotated[str, Form(max_length=8)],
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Report a check-in for a party who has no account (the service refuses otherwise)."""
    try:
        body = CheckInCreate.model_validate({"outcome": outcome, "note": note}, context=FORM_INPUT)
    except ValidationError as exc:
        msg = form_error_text(exc, console_language(request))
        typed = {
            "commitment_id": str(commitment_id),
            "on_behalf_of": on_behalf_of,
            "outcome": outcome,
            "note": note,
        }
        return _match_page(request, db, caller, match_id, error=msg, typed=typed, status_code=422)
    reported = commitments.check_in(
        db,
        caller,
        commitment_id,
        outcome=body.outcome,
        note=body.note,
        evidence_url=None,
        on_behalf_of=on_behalf_of,
        match_id=match_id,
    )
    # Say that it was recorded, and when it took the place of the party's earlier report for the period.
    saved = "check_in_replaced" if reported.replaced else "check_in_saved"
    return RedirectResponse(f"/console/matches/{match_id}?saved={saved}#check-ins", status_code=303)


@router.post("/{match_id}/accept")
def accept_for(
    match_id: IdPath, caller: CoordinatorPage, db: Db, on_behalf_of: Annotated[Party, Form()]
) -> Response:
    """Accept an approved match for a party who has no account."""
    lifecycle.accept(db, caller, match_id, on_behalf_of=on_behalf_of)
    return RedirectResponse(f"/console/matches/{match_id}", status_code=303)
