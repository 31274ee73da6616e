"""Shared dependencies as Annotated aliases: the session, the caller, role and jurisdiction checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from app.access import Caller, Role
from app.access.roles import IMPORTER_ROLES, MOBILE_ROLES, REVIEWER_ROLES
from app.auth.tokens import decode_access_token
from app.config import Settings
from app.db import session_scope
from app.errors import Forbidden, Unauthorized
from app.models import Account

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_session(request: Request) -> Iterator[Session]:
    """One session per request; it commits after the handler returns and rolls back on error."""
    yield from session_scope(request.app.state.sessionmaker)


async def app_settings(request: Request) -> Settings:
    """The settings the running app was built with (async: no I/O, so no thread hop)."""
    return request.app.state.settings  # type: ignore[no-any-return]


# scope="function": commit before the response is sent, so a failed commit is never reported as success.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(app_settings)]


def get_caller(
    session: SessionDep, settings: SettingsDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> Caller:
    """Authenticate the bearer token and load the (still active) account."""
    if not token:
        raise Unauthorized()
    claims = decode_access_token(settings, token)
    account = session.get(Account, claims.account_id)
    if account is None or not account.is_active:
        raise Unauthorized(code="account_inactive")
    # Role and jurisdiction come from the database, so a demotion takes effect at once.
    return Caller.of(account)


CurrentUser = Annotated[Caller, Depends(get_caller)]


def require_role(*roles: Role) -> Callable[[Caller], Caller]:
    """A dependency that lets only the given roles through (403 otherwise)."""

    async def _check(caller: CurrentUser) -> Caller:
        # async on purpose: a pure check should not cost a hop to the thread pool.
        if not caller.has_role(*roles):
            raise Forbidden()
        return caller

    _check.__name__ = f"require_{'_or_'.join(roles)}"
    return _check


AdminUser = Annotated[Caller, Depends(require_role(Role.ADMIN))]
CoordinatorUser = Annotated[Caller, Depends(require_role(*REVIEWER_ROLES))]
OfficeUser = Annotated[Caller, Depends(require_role(*IMPORTER_ROLES))]
MobileUser = Annotated[Caller, Depends(require_role(*MOBILE_ROLES))]
AnyUser = CurrentUser
