"""The five roles, and the sets of them that the rules name."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """Who an account is; stored as its value in `accounts.role`."""

    ADMIN = "admin"
    COORDINATOR = "coordinator"
    TOWNSHIP_OFFICE = "township_office"
    MENTOR = "mentor"
    NEWCOMER = "newcomer"


ALL_ROLES: tuple[Role, ...] = tuple(Role)
# Staff work inside a jurisdiction (admins everywhere); mobile users keep their own profile.
STAFF_ROLES: tuple[Role, ...] = (Role.ADMIN, Role.COORDINATOR, Role.TOWNSHIP_OFFICE)
MOBILE_ROLES: tuple[Role, ...] = (Role.MENTOR, Role.NEWCOMER)
# Who reviews proposals and runs matching, and who imports rosters.
REVIEWER_ROLES: tuple[Role, ...] = (Role.ADMIN, Role.COORDINATOR)
IMPORTER_ROLES: tuple[Role, ...] = (Role.ADMIN, Role.TOWNSHIP_OFFICE)
