"""Sign in, sign out, language switch, and `/` leading to the console."""

from __future__ import annotations

from contextlib import suppress
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from app.access import Caller
from app.auth import service as auth_service
from app.auth.router import SessionsDep
from app.console.i18n import LANG_COOKIE
from app.console.render import page
from app.console.session import SESSION_COOKIE, SESSION_MAX_AGE, end_session, start_session
from app.deps import SessionDep, SettingsDep
from app.errors import AppError

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    # Only paths inside the console: never an open redirect to another site.
    if target and target.startswith("/console") and not target.startswith("//"):
        return target
    return "/console"


@router.get("/")
async def root() -> RedirectResponse:
    """The service's front door is the console."""
    return RedirectResponse("/console", status_code=307)


@router.get("/console/login")
def login_form(request: Request, next: Annotated[str | None, Query(max_length=512)] = None) -> Response:
    """The sign-in form."""
    return page(request, "auth/login.html", {"next": _safe_next(next), "error": None})


@router.post("/console/login")
def login(
    request: Request,
    sessions: SessionsDep,
    session: SessionDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=128)],
    next: Annotated[str | None, Form(max_length=512)] = None,
) -> Response:
    """Sign in with the same login service as the API; mentors and newcomers are turned away politely."""
    ip = request.client.host if request.client else "unknown"
    try:
        pair = auth_service.login(sessions, session, settings, username=username, password=password, ip=ip)
    except AppError as exc:
        # The username comes back as typed, so a mistyped password costs only the password.
        context = {
            "next": _safe_next(next),
            "error": exc.code,
            "username": username,
            "retry_after": exc.headers.get("Retry-After"),
        }
        response = page(request, "auth/login.html", context, status_code=exc.status)
        response.headers.update(exc.headers)  # Retry-After of a throttled sign-in
        return response
    account = auth_service.session_account(session, refresh_token=pair.refresh_token, max_age=SESSION_MAX_AGE)
    if not Caller.of(account).is_staff:
        auth_service.logout(session, refresh_token=pair.refresh_token, account_id=account.id)
        return page(request, "auth/login.html", {"next": "/console", "error": "staff_only"}, status_code=403)
    response = RedirectResponse(_safe_next(next), status_code=303)
    start_session(response, settings, pair.refresh_token)
    return response


@router.post("/console/logout")
def logout(request: Request, session: SessionDep) -> Response:
    """Revoke this login on the server and forget the cookie; the session is dead at once."""
    raw = request.cookies.get(SESSION_COOKIE)
    if raw:
        # An unknown token is a session already gone: signing out again is not an error.
        with suppress(AppError):
            auth_service.end_session(session, refresh_token=raw)
    response = RedirectResponse("/console/login?signed_out=1", status_code=303)
    end_session(response)
    return response


@router.get("/console/lang/{lang}")
async def switch_language(
    lang: str, next: Annotated[str | None, Query(max_length=512)] = None
) -> RedirectResponse:
    """Remember the console language (zh-CN or en) and go back."""
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        LANG_COOKIE, "en" if lang == "en" else "zh-CN", max_age=365 * 86400, path="/", samesite="lax"
    )
    return response
