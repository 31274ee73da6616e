"""Short-lived JWT access tokens; refresh tokens are opaque random strings (see service.py)."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from app.config import Settings
from app.db import utcnow
from app.errors import Unauthorized
from app.schemas import MAX_ID

ALGORITHM = "HS256"
AUDIENCE = "jieduan-api"


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """What an access token asserts about its bearer."""

    account_id: int
    role: str
    jurisdiction: str | None
    generation: int = 0


def issue_access_token(
    settings: Settings, *, account_id: int, role: str, jurisdiction: str | None, generation: int
) -> str:
    """Sign an access token valid for the configured minutes, for the account's token generation."""
    now = utcnow()
    payload = {
        "sub": str(account_id),
        "role": role,
        "jur": jurisdiction,
        "gen": generation,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + timedelta(minutes=settings.access_token_minutes),
    }
    assert settings.secret_key is not None
    return jwt.encode(payload, settings.secret_key.get_secret_value(), algorithm=ALGORITHM)


# Tokens whose signature, audience and claims were verified, with their expiry (a POSIX time). A
# bearer sends the same token on every request for its 15 minutes; checking the HMAC and parsing the
# JSON again each time cost a tenth of a small request. Only the token's own verdict is kept: the
# account (active? role? jurisdiction?) is still read from the database on every request, and the
# expiry is checked on every use. Keyed by the secret too, so a rotated key verifies afresh.
_VERIFIED: dict[tuple[str, str], tuple[AccessClaims, float]] = {}
_VERIFIED_MAX = 4096


def decode_access_token(settings: Settings, token: str) -> AccessClaims:
    """Verify signature, audience and expiry; any failure is a 401."""
    assert settings.secret_key is not None
    key = (settings.secret_key.get_secret_value(), token)
    known = _VERIFIED.get(key)
    if known is not None:
        claims, expires = known
        if time.time() < expires:
            return claims
        _VERIFIED.pop(key, None)
    claims, expires = _verify(settings, token)
    if len(_VERIFIED) >= _VERIFIED_MAX:
        _VERIFIED.clear()
    _VERIFIED[key] = (claims, expires)
    return claims


def _verify(settings: Settings, token: str) -> tuple[AccessClaims, float]:
    assert settings.secret_key is not None
    try:
        payload = jwt.decode(
            token,
            settings.secret_key.get_secret_value(),
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={"require": ["sub", "exp", "iat", "aud"]},
        )
        account_id = int(payload["sub"])
        # A token from before generations were named (none) is of generation 0, as every account was.
        generation = payload.get("gen", 0)
        if type(generation) is not int:
            raise TypeError("gen")
        claims = AccessClaims(account_id, str(payload["role"]), payload.get("jur"), generation)
        expires = float(payload["exp"])
    except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
        raise Unauthorized(code="invalid_token") from exc
    # A subject outside the id column's range names nobody (and must not reach the database).
    if not 1 <= account_id <= MAX_ID:
        raise Unauthorized(code="invalid_token")
    return claims, expires


def new_refresh_secret() -> str:
    """A fresh unguessable refresh-token secret."""
    return secrets.token_urlsafe(32)


def hash_refresh_secret(secret: str) -> str:
    """Refresh tokens are stored only as a SHA-256 (they are random, so no salt is needed)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def expires_in_seconds(settings: Settings) -> int:
    """Access-token lifetime for the token response."""
    return settings.access_token_minutes * 60


def refresh_expiry(settings: Settings) -> datetime:
    """When a refresh token issued now expires."""
    return utcnow() + timedelta(days=settings.refresh_token_days)
