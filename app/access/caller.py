"""Who is asking: the account id, role and jurisdiction, and the jurisdiction rule in both forms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import ColumnElement, true

from app.access.regions import nowhere, under_indexed, within
from app.access.roles import REVIEWER_ROLES, STAFF_ROLES, Role


class AccountFacts(Protocol):
    """What a caller is built from: an `Account`, or a row of those four columns."""

    @property
    def id(self) -> int: ...
    @property
    def role(self) -> str: ...
    @property
    def jurisdiction_code(self) -> str | None: ...
    @property
    def username(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated account, as the authorization rules need it."""

    id: int
    role: Role
    jurisdiction: str | None
    username: str

    def __post_init__(self) -> None:
        # Accept the stored string as well as the enum, so `role is Role.X` always holds.
        object.__setattr__(self, "role", Role(self.role))

    @classmethod
    def of(cls, account: AccountFacts) -> Caller:
        """The caller an account is (role and jurisdiction as stored now, so a demotion bites at once)."""
        return cls(account.id, Role(account.role), account.jurisdiction_code, account.username)

    @property
    def is_admin(self) -> bool:
        """Admins see and change everything."""
        return self.role is Role.ADMIN

    @property
    def is_staff(self) -> bool:
        """Admin, coordinator or township office."""
        return self.role in STAFF_ROLES

    @property
    def is_reviewer(self) -> bool:
        """Admin or coordinator: reviews proposals and runs matching."""
        return self.role in REVIEWER_ROLES

    @property
    def is_office(self) -> bool:
        """A township office, which keeps its township's roster."""
        return self.role is Role.TOWNSHIP_OFFICE

    def has_role(self, *roles: Role | str) -> bool:
        """Whether the caller holds one of the given roles."""
        return self.role in roles

    def covers(self, region_code: str | None) -> bool:
        """Whether a region lies inside this caller's jurisdiction (admins cover everything)."""
        if self.is_admin:
            return True
        if not self.jurisdiction or not region_code:
            return False
        return within(region_code, self.jurisdiction)

    def scope(self, column: Any) -> ColumnElement[bool]:
        """SQL form of `covers`: rows whose region code in `column` lies inside the jurisdiction.

        A range of codes, so an index on the column (alone, or after an equality such as the status)
        finds a jurisdiction's rows without reading the others.
        """
        if self.is_admin:
            return true()
        if not self.jurisdiction:
            # Fail closed: staff without a jurisdiction see nothing.
            return nowhere()
        return under_indexed(column, self.jurisdiction)
