"""Registration, OAuth2 password login, refresh-token rotation, logout, and who-am-I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from sqlalchemy.orm import Session, sessionmaker

from app.accounts.service import get_account, register_mobile_user
from app.auth import service, throttle
from app.auth.schemas import AccountRead, PasswordForm, RefreshRequest, RegisterRequest, TokenResponse
from app.config import Settings
from app.deps import CurrentUser, SessionDep, SettingsDep
from app.errors import TooManyRequests
from app.openapi import problems

router = APIRouter(prefix="/api/v1", tags=["auth"])


async def _sessions(request: Request) -> sessionmaker[Session]:
    """The session factory, for the auth writes that own their transactions (see auth.service)."""
    return request.app.state.sessionmaker  # type: ignore[no-any-return]


SessionsDep = Annotated[sessionmaker[Session], Depends(_sessions)]


def _client_address(request: Request) -> str:
    # Behind a reverse proxy, run uvicorn with --proxy-headers so this is the real client.
    return request.client.host if request.client else "unknown"


def client_limit(request: Request, sessions: SessionsDep, settings: SettingsDep) -> None:
    """Throttle the auth routes per client address, in the database so every worker shares the count."""
    limit = _client_limit(settings)
    retry_after = throttle.hit(sessions, limit, _client_address(request))
    if retry_after is not None:
        raise TooManyRequests(code="too_many_requests", headers={"Retry-After": str(retry_after)})


def _client_limit(settings: Settings) -> throttle.Limit:
    return throttle.Limit(
        "auth_client", settings.auth_client_max_requests, settings.auth_client_window_seconds
    )


ClientLimited = [Depends(client_limit)]


@router.post(
    "/auth/register",
    status_code=status.HTTP_201_CREATED,
    response_model=AccountRead,
    responses=problems(409, 422, 429),
    dependencies=ClientLimited,
)
def register(body: RegisterRequest, session: SessionDep) -> AccountRead:
    """Create a mentor or newcomer account (staff accounts are created by an admin)."""
    account = register_mobile_user(
        session, phone=body.phone, password=body.password, role=body.role, display_name=body.display_name
    )
    return AccountRead.model_validate(account)


@router.post(
    "/auth/token",
    response_model=TokenResponse,
    responses=problems(401, 422, 429),
    dependencies=ClientLimited,
    openapi_extra={
        "requestBody": {
            "content": {
                "application/x-www-form-urlencoded": {
                    "example": {"username": "coord-jiangsu", "password": "jieduan-demo"}
                }
            }
        }
    },
)
def token(
    form: Annotated[PasswordForm, Depends()],
    request: Request,
    sessions: SessionsDep,
    session: SessionDep,
    settings: SettingsDep,
) -> TokenResponse:
    """OAuth2 password flow: a short-lived access token and a single-use refresh token."""
    pair = service.login(
        sessions,
        session,
        settings,
        username=form.username,
        password=form.password,
        ip=_client_address(request),
    )
    return TokenResponse(
        access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in
    )


@router.post(
    "/auth/refresh",
    response_model=TokenResponse,
    responses=problems(401, 422, 429),
    dependencies=ClientLimited,
)
def refresh(body: RefreshRequest, sessions: SessionsDep, settings: SettingsDep) -> TokenResponse:
    """Spend a refresh token for a new pair; reusing a spent one logs the whole family out."""
    pair = service.refresh(sessions, settings, refresh_token=body.refresh_token)
    return TokenResponse(
        access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in
    )


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT, responses=problems(401, 422))
def logout(body: RefreshRequest, caller: CurrentUser, session: SessionDep) -> Response:
    """Revoke the refresh tokens of this login."""
    service.logout(session, refresh_token=body.refresh_token, account_id=caller.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=AccountRead, responses=problems(401))
def me(caller: CurrentUser, session: SessionDep) -> AccountRead:
    """The caller's own account."""
    return AccountRead.model_validate(get_account(session, caller.id))
