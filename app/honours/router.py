"""Honours: rules, evaluation and confirmation by coordinators, certificates, public verification."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy.orm import Session

from app.access import Caller, Role
from app.access.roles import REVIEWER_ROLES
from app.auth import throttle
from app.bulk import makes_postgres_sessions
from app.console.render import templates
from app.db import writes_allowed
from app.deps import CoordinatorUser, SessionDep, public_site, require_role
from app.errors import NotFound, TooManyRequests
from app.honours import rules, service
from app.honours.schemas import EvaluateRequest, HonourRead, RuleRead, VerificationRead
from app.models import Honour
from app.openapi import problems
from app.pagination import CursorQuery, LimitQuery
from app.schemas import IdPath, Page

router = APIRouter(tags=["honours"])
CertificateUser = Annotated[Caller, Depends(require_role(*REVIEWER_ROLES, Role.MENTOR))]
MentorUser = Annotated[Caller, Depends(require_role(Role.MENTOR))]
VERIFICATIONS_PER_MINUTE = 20
# What is read of a typed code: the 19 characters printed, with room for any spaces between them.
CODE_TYPED = 64
CodePath = Annotated[
    str, Path(description="The verification code printed on the certificate, e.g. 7KQM-2ZTA-X9PD-H4WE")
]


VERIFY_LIMIT = throttle.Limit("verify", VERIFICATIONS_PER_MINUTE, 60)


def verification_wait(request: Request) -> int | None:
    """At most VERIFICATIONS_PER_MINUTE look-ups per client address; None if this one may go ahead, else
    the seconds to wait.

    On PostgreSQL the count is kept in the database as the sign-in limits are, so every worker process
    shares it (guessing stays slow behind four workers). On SQLite a GET must never wait for the file's
    write lock (a long import holds it, and pages are read beside it), so each process counts in its
    own memory there: SQLite serves one machine.
    """
    client = request.client.host if request.client else "unknown"
    sessions = request.app.state.sessionmaker
    if makes_postgres_sessions(sessions):  # read off the bind: no session is opened to ask
        with writes_allowed():  # a GET: its transactions are read-only unless told
            return throttle.hit(sessions, VERIFY_LIMIT, client)
    limiter = getattr(request.app.state, "verification_limiter", None)
    if limiter is None:
        limiter = request.app.state.verification_limiter = MovingWindowRateLimiter(MemoryStorage())
    allowed = limiter.hit(RateLimitItemPerMinute(VERIFICATIONS_PER_MINUTE), "verify", client)
    return None if allowed else 60


def verification_limit(request: Request) -> None:
    """The JSON look-up's limit: a 429 problem document with Retry-After."""
    if (wait := verification_wait(request)) is not None:
        raise TooManyRequests(code="verification_throttled", headers={"Retry-After": str(wait)})


VerificationLimit = Annotated[None, Depends(verification_limit)]


def _read(h: Honour) -> HonourRead:
    rule = rules.BY_CODE[h.rule_code]
    return HonourRead.model_validate(
        {
            **{c.key: getattr(h, c.key) for c in Honour.__table__.columns},
            "title_zh": rule.title_zh,
            "title_en": rule.title_en,
        }
    )


@router.get("/api/v1/honours/rules", response_model=list[RuleRead], responses=problems(401, 403))
def list_rules(caller: CoordinatorUser) -> list[RuleRead]:
    """The honour rules now in force, with their version."""
    return [
        RuleRead(
            code=r.code,
            title_zh=r.title_zh,
            title_en=r.title_en,
            metric=r.metric,
            threshold=r.threshold,
            support=r.support,
            min_support=r.min_support,
            rules_version=rules.RULES_VERSION,
        )
        for r in rules.RULES
    ]


@router.post(
    "/api/v1/honours/evaluate",
    status_code=status.HTTP_201_CREATED,
    response_model=list[HonourRead],
    responses=problems(401, 403, 404, 422),
)
def evaluate(body: EvaluateRequest, caller: CoordinatorUser, session: SessionDep) -> list[HonourRead]:
    """Propose the honours mentors earned in a period (for the newcomers of your jurisdiction)."""
    proposed = service.evaluate(
        session, caller=caller, region=body.region, period_start=body.period_start, period_end=body.period_end
    )
    return [_read(h) for h in proposed]


@router.get("/api/v1/honours", response_model=Page[HonourRead], responses=problems(401, 403, 422))
def list_honours(
    caller: CoordinatorUser,
    session: SessionDep,
    status: Annotated[
        Literal["proposed", "confirmed", "revoked"] | None,
        Query(description="Only honours in this state (proposed: waiting for a coordinator's confirmation)"),
    ] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[HonourRead]:
    """Honours of your jurisdiction, newest first."""
    page = service.list_honours(session, caller=caller, status=status, cursor=cursor, limit=limit)
    return Page[HonourRead](items=[_read(h) for h in page.items], next_cursor=page.next_cursor)


@router.post(
    "/api/v1/honours/{honour_id}/confirm", response_model=HonourRead, responses=problems(401, 403, 404, 409)
)
def confirm(honour_id: IdPath, caller: CoordinatorUser, session: SessionDep) -> HonourRead:
    """Confirm a proposed honour: it gets a verification code and appears on the mentor's profile."""
    return _read(service.confirm(session, caller=caller, honour_id=honour_id))


@router.post(
    "/api/v1/honours/{honour_id}/revoke", response_model=HonourRead, responses=problems(401, 403, 404, 409)
)
def revoke(honour_id: IdPath, caller: CoordinatorUser, session: SessionDep) -> HonourRead:
    """Revoke an honour: its code no longer verifies and it leaves the profile."""
    return _read(service.revoke(session, caller=caller, honour_id=honour_id))


@router.get("/api/v1/me/honours", response_model=list[HonourRead], responses=problems(401, 403))
def my_honours(caller: MentorUser, session: SessionDep) -> list[HonourRead]:
    """Your confirmed honours."""
    return [_read(h) for h in service.my_honours(session, caller=caller)]


@router.get(
    "/api/v1/honours/{honour_id}/certificate",
    response_class=Response,
    responses={**problems(401, 403, 404, 409), 200: {"content": {"application/pdf": {}}}},
)
def certificate(
    request: Request, honour_id: IdPath, caller: CertificateUser, session: SessionDep
) -> Response:
    """The certificate of a confirmed honour as a PDF."""
    site = public_site(request)
    honour, pdf = service.certificate_pdf(session, caller=caller, honour_id=honour_id, site=site)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="certificate-{honour.verification_code}.pdf"'},
    )


@router.get("/api/v1/verify/{code}", response_model=VerificationRead, responses=problems(404, 422, 429))
def verify_json(code: CodePath, _: VerificationLimit, session: SessionDep) -> VerificationRead:
    """Public: the name, honour and date a certificate's code stands for (404 for any other code)."""
    found = service.verify(session, code=code[:CODE_TYPED])
    if found is None:
        raise NotFound()
    return VerificationRead(
        name=found.name, honour_zh=found.honour_zh, honour_en=found.honour_en, confirmed_on=found.confirmed_on
    )


def _page(
    request: Request,
    answer: str | None = None,
    *,
    found: service.Verified | None = None,
    code: str = "",
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """The verification page: the answer for a typed code (none for the blank form), then the form again."""
    context = {"answer": answer, "found": found, "code": code, "typed_max": CODE_TYPED}
    return templates.TemplateResponse(
        request, "honours/verify.html", context, status_code=status_code, headers=headers
    )


# Pages for people holding a certificate: every answer, refusals included, is HTML.
_PAGE_ANSWERS: dict[int | str, dict[str, Any]] = {
    404: {"description": "Not a valid code: a page saying so, and the form", "content": {"text/html": {}}},
    429: {"description": "Too many look-ups from this address (Retry-After)", "content": {"text/html": {}}},
}


@router.get("/verify", response_class=HTMLResponse, responses={303: {"description": "To the code's page"}})
def verify_form(
    request: Request,
    session: SessionDep,
    code: Annotated[str | None, Query(max_length=512, description="A code typed into the form")] = None,
) -> Response:
    """Public page: the form to type a certificate's code; a typed code goes to its verification page."""
    if code is None or not code.strip():
        return _page(request)
    if typed := service.normalise_code(code[:CODE_TYPED]):
        page = service.VERIFY_PATH + quote(typed, safe="")
        return RedirectResponse(page, status_code=status.HTTP_303_SEE_OTHER)
    return _answer(request, session, code)  # only separators or symbols: answered here, as not valid


@router.get("/verify/{code}", response_class=HTMLResponse, responses=_PAGE_ANSWERS)
def verify_page(code: CodePath, request: Request, session: SessionDep) -> HTMLResponse:
    """Public page: a valid code shows the name, honour and date; any other code shows nothing of anyone."""
    return _answer(request, session, code)


def _answer(request: Request, session: Session, code: str) -> HTMLResponse:
    """The page for a typed code, within the look-up limit."""
    typed = code[:CODE_TYPED]
    if (wait := verification_wait(request)) is not None:
        return _page(request, "throttled", code=typed, status_code=429, headers={"Retry-After": str(wait)})
    found = service.verify(session, code=typed)
    if found is None:
        return _page(request, "not_valid", code=typed, status_code=404)
    return _page(request, "valid", found=found)
