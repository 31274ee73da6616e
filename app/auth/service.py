"""Log in, rotate refresh tokens, log out, throttle failed logins."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from app.auth.passwords import dummy_hash, verify_password
from app.auth.tokens import (
    expires_in_seconds,
    hash_refresh_secret,
    issue_access_token,
    new_refresh_secret,
    refresh_expiry,
)
from app.config import Settings
from app.db import utcnow
from app.errors import TooManyRequests, Unauthorized
from app.models import Account, LoginFailure, RefreshToken


@dataclass(frozen=True, slots=True)
class TokenPair:
    """What a successful login or refresh returns."""

    access_token: str
    refresh_token: str
    expires_in: int


def _check_throttle(session: Session, settings: Settings, username: str) -> None:
    since = utcnow() - timedelta(minutes=settings.login_window_minutes)
    failures = (
        session.scalar(
            select(func.count())
            .select_from(LoginFailure)
            .where(LoginFailure.username == username, LoginFailure.at >= since)
        )
        or 0
    )
    if failures >= settings.login_max_failures:
        raise TooManyRequests(
            code="login_throttled",
            headers={"Retry-After": str(settings.login_window_minutes * 60)},
        )


def _issue_pair(session: Session, settings: Settings, account: Account, family_id: str) -> TokenPair:
    secret = new_refresh_secret()
    token = RefreshToken(
        id=str(uuid.uuid4()),
        account_id=account.id,
        family_id=family_id,
        token_hash=hash_refresh_secret(secret),
        expires_at=refresh_expiry(settings),
    )
    session.add(token)
    session.flush()
    access = issue_access_token(
        settings, account_id=account.id, role=account.role, jurisdiction=account.jurisdiction_code
    )
    # The refresh token names its row so lookup is by primary key, then the secret is compared by hash.
    return TokenPair(access, f"{token.id}.{secret}", expires_in_seconds(settings))


def login(session: Session, settings: Settings, *, username: str, password: str, ip: str) -> TokenPair:
    """Verify a password and start a new refresh-token family; failures are counted."""
    username = username.strip()
    _check_throttle(session, settings, username)
    account = session.scalar(select(Account).where(Account.username == username))
    ok = verify_password(password, account.password_hash if account else dummy_hash())
    if not account or not ok:
        session.add(LoginFailure(username=username, ip=ip))
        session.commit()  # the failure must be counted even though the request ends in a 401
        raise Unauthorized(code="invalid_credentials")
    if not account.is_active:
        raise Unauthorized(code="account_inactive")
    session.execute(delete(LoginFailure).where(LoginFailure.username == username))
    return _issue_pair(session, settings, account, str(uuid.uuid4()))


def _find_token(session: Session, raw: str) -> RefreshToken:
    token_id, _, secret = raw.partition(".")
    token = session.get(RefreshToken, token_id) if token_id and secret else None
    if token is None or token.token_hash != hash_refresh_secret(secret):
        raise Unauthorized(code="invalid_token")
    return token


def _revoke_family(session: Session, family_id: str) -> None:
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def refresh(session: Session, settings: Settings, *, refresh_token: str) -> TokenPair:
    """Rotate: the presented token is spent; presenting a spent one revokes its whole family."""
    token = _find_token(session, refresh_token)
    now = utcnow()
    if token.revoked_at is not None or token.expires_at <= now:
        raise Unauthorized(code="invalid_token")
    # Mark used with a conditional UPDATE so two concurrent refreshes cannot both succeed.
    spent = session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == token.id, RefreshToken.used_at.is_(None))
        .values(used_at=now)
    ).rowcount
    if spent != 1:
        _revoke_family(session, token.family_id)
        session.commit()  # the revocation must survive the 401 that follows
        raise Unauthorized(code="refresh_token_reused")
    account = session.get(Account, token.account_id)
    if account is None or not account.is_active:
        raise Unauthorized(code="account_inactive")
    return _issue_pair(session, settings, account, token.family_id)


def logout(session: Session, *, refresh_token: str, account_id: int) -> None:
    """Revoke the refresh-token family of this login."""
    token = _find_token(session, refresh_token)
    if token.account_id != account_id:
        raise Unauthorized(code="invalid_token")
    _revoke_family(session, token.family_id)


def session_account(session: Session, *, refresh_token: str) -> Account:
    """The account behind a console session (a login's refresh token): 401 once revoked or deactivated."""
    token = _find_token(session, refresh_token)
    if token.revoked_at is not None or token.expires_at <= utcnow():
        raise Unauthorized(code="invalid_token")
    account = session.get(Account, token.account_id)
    if account is None or not account.is_active:
        raise Unauthorized(code="account_inactive")
    return account
