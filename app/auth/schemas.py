"""Request and response bodies of the auth endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import Form
from pydantic import ConfigDict, Field

from app.access.roles import MobileRoleName
from app.schemas import Input, Output, Password, PhoneStr


class RegisterRequest(Input):
    """A mobile user signs up with their phone number as username."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "phone": "13700001111",
                    "password": "tea-from-caoxian",
                    "role": "newcomer",
                    "display_name": "李大姐",
                }
            ]
        }
    )

    phone: PhoneStr
    """Mainland mobile number (11 digits); it is the username from now on"""
    password: Password
    """8 to 128 characters, used exactly as typed; not the phone, not a common password"""
    role: MobileRoleName
    """Which kind of profile the account will keep (staff accounts are made by an admin)"""
    display_name: str = Field(min_length=1, max_length=64)
    """The name others see"""


class PasswordForm:
    """The OAuth2 password-flow form (RFC 6749, 4.3), its fields described for the API document."""

    def __init__(
        self,
        username: Annotated[str, Form(description="A staff username, or a mobile user's phone number")],
        password: Annotated[
            str, Form(description="The password, exactly as typed", json_schema_extra={"format": "password"})
        ],
        grant_type: Annotated[
            str | None, Form(pattern="^password$", description='"password", or left out')
        ] = None,
        scope: Annotated[str, Form(description="Ignored: the account's role decides what it may do")] = "",
    ) -> None:
        self.username = username
        self.password = password
        self.grant_type = grant_type
        self.scopes = scope.split()


class TokenResponse(Output):
    """OAuth2 token response with a rotating refresh token."""

    access_token: str
    """Bearer token for the Authorization header (a JWT)"""
    refresh_token: str
    """Single-use token for POST /api/v1/auth/refresh; store it safely"""
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    """Always bearer"""
    expires_in: int
    """Seconds until the access token expires"""


class RefreshRequest(Input):
    """A refresh token to spend (refresh) or revoke (logout)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"refresh_token": "Vd3k9Q2xw7yLrT5mN8bP1cJ4hG6fS0aZeU-oK"}]}
    )

    refresh_token: str = Field(min_length=10, max_length=200)
    """The refresh_token of the last token answer (single use: a new one comes back)"""


class AccountRead(Output):
    """An account as its owner or an admin sees it."""

    id: int
    """Account id"""
    username: str
    """Sign-in name (a mobile user's phone number)"""
    role: str
    """admin, coordinator, township_office, mentor or newcomer"""
    display_name: str
    """The name others see"""
    jurisdiction_code: str | None
    """Region the staff account covers (null for mobile users and admins)"""
    is_active: bool
    """false once deactivated"""
    created_at: datetime
    """When the account was made (UTC)"""
