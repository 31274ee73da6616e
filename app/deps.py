"""Shared dependencies as Annotated aliases: the session, the caller, role and jurisdiction checks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from anyio import CancelScope, CapacityLimiter, to_thread
from fastapi import Depends, Request
from fastapi.routing import APIRoute
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from app.access import Caller, Role
from app.access.roles import IMPORTER_ROLES, MOBILE_ROLES, REVIEWER_ROLES
from app.auth.tokens import decode_access_token
from app.config import Settings
from app.errors import Forbidden, Unauthorized
from app.models import Account
from app.query_params import check_query, check_query_async, depends_on

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One session per request; it commits after the handler returns and rolls back on error.

    Opened on the event loop, since a new session does no I/O (it takes a connection at its first
    query), so a request pays one thread-pool hop for its session, at the end, not two. The commit or
    rollback runs in the pool, shielded from cancellation and outside the pool's capacity limit (a
    full pool must never keep a connection from going back), as FastAPI does for sync dependencies.
    """
    session = request.app.state.sessionmaker()
    try:
        yield session
    except BaseException:
        with CancelScope(shield=True):
            await to_thread.run_sync(_end, session, False, limiter=CapacityLimiter(1))
        raise
    with CancelScope(shield=True):
        await to_thread.run_sync(_end, session, True, limiter=CapacityLimiter(1))


def _end(session: Session, commit: bool) -> None:
    """Commit (or roll back) and close: the session dependency's end, in one call."""
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


async def app_settings(request: Request) -> Settings:
    """The settings the running app was built with (async: no I/O, so no thread hop)."""
    return request.app.state.settings  # type: ignore[no-any-return]


# scope="function": commit before the response is sent, so a failed commit is never reported as success.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(app_settings)]


# Built once: the statement of the account lookup every authenticated request makes.
_ACTIVE_ACCOUNT = select(Account.id, Account.role, Account.jurisdiction_code, Account.username).where(
    Account.id == bindparam("account_id"), Account.is_active
)


def get_caller(
    request: Request, session: SessionDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> Caller:
    """Authenticate the bearer token and load the (still active) account."""
    if not token:
        raise Unauthorized()
    # The settings straight from the app, not through SettingsDep: one dependency less on every request.
    claims = decode_access_token(request.app.state.settings, token)
    # One primary-key lookup of four columns on every request: role and jurisdiction come from the
    # database, so a deactivation or a demotion takes effect at once (no cache to go stale).
    account = session.connection().execute(_ACTIVE_ACCOUNT, {"account_id": claims.account_id}).first()
    if account is None:
        raise Unauthorized(code="account_inactive")
    # After authentication (and after the role check, where the route has one: `require_role`).
    route = request.scope.get("route")
    if isinstance(route, APIRoute) and not depends_on(route, _is_role_check):
        check_query(request, session)
    return Caller.of(account)


CurrentUser = Annotated[Caller, Depends(get_caller)]


def check_public_query(request: Request) -> None:
    """The query check of every API router; a route that authenticates runs it after the caller is known."""
    route = request.scope.get("route")
    if isinstance(route, APIRoute) and not depends_on(route, _is_get_caller):
        check_query(request)


def _is_get_caller(call: Callable[..., Any]) -> bool:
    return call is get_caller


def _is_role_check(call: Callable[..., Any]) -> bool:
    return getattr(call, "checks_role", False) is True


def require_role(*roles: Role) -> Callable[..., Awaitable[Caller]]:
    """A dependency that lets only the given roles through (403 otherwise)."""

    async def _check(request: Request, caller: CurrentUser) -> Caller:
        # async on purpose: a pure check should not cost a hop to the thread pool.
        if not caller.has_role(*roles):
            raise Forbidden()
        await check_query_async(request)
        return caller

    _check.__name__ = f"require_{'_or_'.join(roles)}"
    _check.checks_role = True  # type: ignore[attr-defined]
    return _check


AdminUser = Annotated[Caller, Depends(require_role(Role.ADMIN))]
CoordinatorUser = Annotated[Caller, Depends(require_role(*REVIEWER_ROLES))]
OfficeUser = Annotated[Caller, Depends(require_role(*IMPORTER_ROLES))]
MobileUser = Annotated[Caller, Depends(require_role(*MOBILE_ROLES))]
AnyUser = CurrentUser
