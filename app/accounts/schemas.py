"""Bodies of the admin account endpoints."""

from __future__ import annotations

from pydantic import ConfigDict, Field, field_validator

from app.access.roles import StaffRoleName
from app.schemas import Input, Password, RegionCodeStr, not_null, refusal


class StaffAccountCreate(Input):
    """A staff account; coordinators and township offices need a jurisdiction region code."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "username": "coord-suqian",
                    "password": "flowers-and-trees-2026",
                    "role": "coordinator",
                    "display_name": "宿迁市电商服务中心",
                    "jurisdiction_code": "3213",
                }
            ]
        }
    )

    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    """Sign-in name: letters, digits, _ . -, with at least one letter"""
    password: Password
    """The first password (8 to 128 characters; the policy of registration applies)"""
    role: StaffRoleName
    """What the account may do (see the roles table in the README)"""
    display_name: str = Field(min_length=1, max_length=64)
    """The office or person, as shown to others"""
    jurisdiction_code: RegionCodeStr | None = None
    """Region the account covers (coordinator: any level; township office: a 9-digit township)"""

    @field_validator("username")
    @classmethod
    def _has_a_letter(cls, username: str) -> str:
        # Mentors and newcomers sign in with their phone number: a staff name of digits only could
        # take a number its owner then cannot sign up with.
        if not any(c.isascii() and c.isalpha() for c in username):
            raise refusal(
                "须包含至少一个英文字母（纯数字是手机号的登录名）",
                "must contain a letter (digits only are a phone number's sign-in name)",
            )
        return username


class AccountUpdate(Input):
    """What an admin may change on an account."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"jurisdiction_code": "32", "is_active": True}]}
    )

    display_name: str | None = Field(default=None, min_length=1, max_length=64)
    """A new display name"""
    jurisdiction_code: RegionCodeStr | None = None
    """A new jurisdiction (staff accounts)"""
    is_active: bool | None = None
    """false deactivates the account: its tokens stop working at once"""

    _nn = field_validator("display_name", "is_active")(not_null)
