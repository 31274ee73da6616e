"""The five roles, and the sets of them that the rules name."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, get_args


class Role(StrEnum):
    """Who an account is; stored as its value in `accounts.role`."""

    ADMIN = "admin"
    COORDINATOR = "coordinator"
    TOWNSHIP_OFFICE = "township_office"
    MENTOR = "mentor"
    NEWCOMER = "newcomer"


ALL_ROLES: tuple[Role, ...] = tuple(Role)
# Staff work inside a jurisdiction (admins everywhere); mobile users keep their own profile.
StaffRoleName = Literal["admin", "coordinator", "township_office"]
STAFF_ROLES: tuple[Role, ...] = tuple(Role(name) for name in get_args(StaffRoleName))
MobileRoleName = Literal["mentor", "newcomer"]
MOBILE_ROLES: tuple[Role, ...] = tuple(Role(name) for name in get_args(MobileRoleName))
# Who reviews proposals and runs matching, and who imports rosters.
REVIEWER_ROLES: tuple[Role, ...] = (Role.ADMIN, Role.COORDINATOR)
IMPORTER_ROLES: tuple[Role, ...] = (Role.ADMIN, Role.TOWNSHIP_OFFICE)

# The region level each staff role's jurisdiction must have (an admin has none: it covers the country).
JURISDICTION_LEVELS: dict[Role, tuple[str, ...]] = {
    Role.COORDINATOR: ("province", "prefecture", "county"),
    Role.TOWNSHIP_OFFICE: ("township",),
}
