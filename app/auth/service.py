"""Log in, rotate refresh tokens, log out; failed logins are counted and throttled.

Two paths own their transactions instead of leaving them to the request's session, because what they
write must survive the error that ends the request: the attempt counter and failed-login record of a
login (written before and after the password check, each in its own short transaction), and the
revocation of a refresh-token family when a spent token is replayed (the whole rotation is one explicit
transaction that commits before the 401 is raised).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from app.auth import throttle
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
from app.errors import AppError, TooManyRequests, Unauthorized
from app.models import Account, LoginFailure, RefreshToken
from app.schemas import has_nul

# The username column's length: anything longer cannot name an account.
USERNAME_MAX = Account.__table__.c.username.type.length  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class TokenPair:
    """What a successful login or refresh returns."""

    access_token: str
    refresh_token: str
    expires_in: int


def login_limit(settings: Settings) -> throttle.Limit:
    """Password checks allowed per username: failures and successes alike count."""
    return throttle.Limit("login", settings.login_max_attempts, settings.login_window_minutes * 60)


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
        settings,
        account_id=account.id,
        role=account.role,
        jurisdiction=account.jurisdiction_code,
        generation=account.token_generation,
    )
    # The refresh token names its row so lookup is by primary key, then the secret is compared by hash.
    return TokenPair(access, f"{token.id}.{secret}", expires_in_seconds(settings))


def login(
    sessions: sessionmaker[Session],
    session: Session,
    settings: Settings,
    *,
    username: str,
    password: str,
    ip: str,
) -> TokenPair:
    """Verify a password and start a new refresh-token family.

    The attempt is counted (and refused past the limit) in its own committed transaction before the
    password is checked, so concurrent attempts cannot all slip under the limit; a success gives its
    count back, so the limit bounds wrong passwords; a failure is recorded in another short
    transaction of its own. Only a success writes through the request's `session`.
    """
    username = username.strip()
    if not username or len(username) > USERNAME_MAX or has_nul(username):
        # No account can have this name; spend the same time as a miss and say the same.
        verify_password(password, dummy_hash())
        raise Unauthorized(code="invalid_credentials")
    retry_after = throttle.hit(sessions, login_limit(settings), username)
    if retry_after is not None:
        raise TooManyRequests(code="login_throttled", headers={"Retry-After": str(retry_after)})
    with sessions() as lookup:
        account = lookup.scalar(select(Account).where(Account.username == username))
    ok = verify_password(password, account.password_hash if account else dummy_hash())
    if not account or not ok:
        with sessions.begin() as audit:
            audit.add(LoginFailure(username=username, ip=ip[:64]))
        raise Unauthorized(code="invalid_credentials")
    if not account.is_active:
        raise Unauthorized(code="account_inactive")
    # The attempt was reserved before the check so that concurrent guesses cannot overrun the limit;
    # a success hands it back, so the budget bounds wrong passwords, not the owner's own sign-ins.
    throttle.release(sessions, login_limit(settings), username)
    return _issue_pair(session, settings, account, str(uuid.uuid4()))


def _find_token(session: Session, raw: str) -> RefreshToken:
    token_id, _, secret = raw.partition(".")
    token = session.get(RefreshToken, token_id) if token_id and secret and not has_nul(raw) else None
    if token is None or token.token_hash != hash_refresh_secret(secret):
        raise Unauthorized(code="invalid_token")
    return token


def _revoke_family(session: Session, family_id: str) -> None:
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def _rotate(session: Session, settings: Settings, raw: str) -> TokenPair | AppError:
    token = _find_token(session, raw)
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
        return Unauthorized(code="refresh_token_reused")  # returned, so the revocation commits
    account = session.get(Account, token.account_id)
    if account is None or not account.is_active:
        raise Unauthorized(code="account_inactive")
    return _issue_pair(session, settings, account, token.family_id)


def refresh(sessions: sessionmaker[Session], settings: Settings, *, refresh_token: str) -> TokenPair:
    """Rotate: the presented token is spent; presenting a spent one revokes its whole family.

    Owns its transaction: the rotation runs in one explicit transaction that commits when it ends in a
    new pair or in the revocation of a replayed token's family (which must survive the 401), and rolls
    back on any other error.
    """
    with sessions.begin() as session:
        outcome = _rotate(session, settings, refresh_token)
    if isinstance(outcome, AppError):
        raise outcome
    return outcome


def logout(session: Session, *, refresh_token: str, account_id: int) -> None:
    """Revoke the refresh-token family of this login."""
    token = _find_token(session, refresh_token)
    if token.account_id != account_id:
        raise Unauthorized(code="invalid_token")
    _revoke_family(session, token.family_id)


def end_session(session: Session, *, refresh_token: str) -> None:
    """Sign a console session out: revoke its login's family even if the session is already over.

    An expired or spent session token still names its family, and a copy of it traded at the API's
    refresh must die with the sign-out too.
    """
    _revoke_family(session, _find_token(session, refresh_token).family_id)


def session_account(session: Session, *, refresh_token: str, max_age: timedelta) -> Account:
    """The account behind a console session (a login's refresh token): 401 once revoked or deactivated.

    The session also ends `max_age` after its login, whatever the refresh token's own 30 days: the
    cookie's max-age is only the browser's promise, and a copy of the cookie must not outlive it. A token
    spent at the API's refresh is no session either: the console never refreshes, so a spent one means
    the cookie was taken out of the browser (HttpOnly) and traded for API tokens.
    """
    token = _find_token(session, refresh_token)
    now = utcnow()
    if (
        token.revoked_at is not None
        or token.used_at is not None
        or token.expires_at <= now
        or token.created_at + max_age <= now
    ):
        raise Unauthorized(code="invalid_token")
    account = session.get(Account, token.account_id)
    if account is None or not account.is_active:
        raise Unauthorized(code="account_inactive")
    return account
