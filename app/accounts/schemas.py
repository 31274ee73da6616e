"""Bodies of the admin account endpoints."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from app.schemas import Input, Password, RegionCodeStr


class StaffAccountCreate(Input):
    """A staff account; coordinators and township offices need a jurisdiction region code."""

    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    password: Password
    role: Literal["admin", "coordinator", "township_office"]
    display_name: str = Field(min_length=1, max_length=64)
    jurisdiction_code: RegionCodeStr | None = None


class AccountUpdate(Input):
    """What an admin may change on an account."""

    display_name: str | None = Field(default=None, min_length=1, max_length=64)
    jurisdiction_code: RegionCodeStr | None = None
    is_active: bool | None = None
