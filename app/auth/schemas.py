"""Request and response bodies of the auth endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from app.schemas import Input, Output, Password, PhoneStr


class RegisterRequest(Input):
    """A mobile user signs up with their phone number as username."""

    phone: PhoneStr
    password: Password
    role: Literal["mentor", "newcomer"]
    display_name: str = Field(min_length=1, max_length=64)


class TokenResponse(Output):
    """OAuth2 token response with a rotating refresh token."""

    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int


class RefreshRequest(Input):
    """A refresh token to spend (refresh) or revoke (logout)."""

    refresh_token: str = Field(min_length=10, max_length=200)


class AccountRead(Output):
    """An account as its owner or an admin sees it."""

    id: int
    username: str
    role: str
    display_name: str
    jurisdiction_code: str | None
    is_active: bool
    created_at: datetime
