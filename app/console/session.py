"""Console sessions: an HttpOnly SameSite cookie holding the login's refresh token, checked on every request.

The cookie names a refresh-token family (created by the same login service as the API), so logging
out (revoking the family) or deactivating the account ends the session on the very next request.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request, Response

from app.access import STAFF_ROLES, Caller, Role
from app.access.roles import IMPORTER_ROLES, REVIEWER_ROLES
from app.auth import service as auth_service
from app.deps import SessionDep, SettingsDep
from app.errors import Forbidden, Unauthorized

SESSION_COOKIE = "jd_session"
SESSION_HOURS = 12
SESSION_MAX_AGE = timedelta(hours=SESSION_HOURS)  # held by the server too, not only by the cookie


def console_caller(request: Request, session: SessionDep) -> Caller:
    """The signed-in account, loaded afresh (still active, session not revoked), else 401."""
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        raise Unauthorized(code="unauthorized")
    account = auth_service.session_account(session, refresh_token=raw, max_age=SESSION_MAX_AGE)
    caller = Caller.of(account)
    # Kept for an error page later in the request, which shows the same navigation as every page.
    request.state.console_caller = caller
    return caller


def signed_in_caller(request: Request) -> Caller | None:
    """The caller for an error page: the one this request resolved, else the cookie's, else None.

    An error before routing (404, a refused body) resolved nobody; its page still shows the navigation.
    Any failure to resolve (no cookie, ended session, database trouble) is only a page without it.
    """
    known = getattr(request.state, "console_caller", None)
    if isinstance(known, Caller) or not request.cookies.get(SESSION_COOKIE):
        return known
    try:
        with request.app.state.sessionmaker() as session:
            return console_caller(request, session)
    except Exception:
        return None


ConsoleCaller = Annotated[Caller, Depends(console_caller)]


def _for_roles(roles: tuple[Role, ...]) -> tuple[str, str]:
    """ "This page is for coordinators": said to staff of another role, who may use the console."""
    from app.console.render import LABELS  # render's labels; render does not import this module

    names = [LABELS["role"][r] for r in roles if r in LABELS["role"] and r != Role.ADMIN]
    zh = "、".join(n[0] for n in names) or LABELS["role"][Role.ADMIN][0]
    en = ", ".join(f"{n[1]}s" for n in names) or "administrators"
    return (
        f"此页面仅供{zh}使用，请从首页进入您的工作页面。",
        f"This page is for {en}. Start from the home page.",
    )


def console_role(*roles: Role) -> Callable[[Caller], Caller]:
    """A dependency letting only the given roles reach a page (403, rendered politely, otherwise)."""

    async def _check(caller: ConsoleCaller) -> Caller:
        if not caller.has_role(*roles):
            if not caller.is_staff:
                raise Forbidden()  # a mentor or newcomer: the console is not theirs at all
            raise Forbidden(code="page_not_for_role", detail=_for_roles(roles))
        return caller

    _check.__name__ = f"console_{'_or_'.join(roles)}"
    return _check


# The same role sets as the API's dependencies in app/deps.py.
StaffPage = Annotated[Caller, Depends(console_role(*STAFF_ROLES))]
CoordinatorPage = Annotated[Caller, Depends(console_role(*REVIEWER_ROLES))]
OfficePage = Annotated[Caller, Depends(console_role(*IMPORTER_ROLES))]
AdminPage = Annotated[Caller, Depends(console_role(Role.ADMIN))]


def start_session(response: Response, settings: SettingsDep, refresh_token: str) -> None:
    """Set the session cookie: HttpOnly, SameSite=Lax, Secure in production, console paths only."""
    response.set_cookie(
        SESSION_COOKIE,
        refresh_token,
        max_age=int(SESSION_MAX_AGE.total_seconds()),
        path="/console",
        httponly=True,
        samesite="lax",
        secure=settings.env == "production",
    )


def end_session(response: Response) -> None:
    """Forget the session cookie in the browser (the service revokes it on the server)."""
    response.delete_cookie(SESSION_COOKIE, path="/console")
