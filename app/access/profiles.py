"""Who may see, create and change a profile, and who sees its phone in full."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.orm import Session

from app.access.caller import Caller
from app.access.roles import Role
from app.errors import Conflict, Forbidden
from app.models import Match, Mentor, MentorProduct, Newcomer, NewcomerProduct
from app.models.matches import MatchStatus

Profile = Mentor | Newcomer


class ProfileFacts(Protocol):
    """What the view and phone rules read of a profile: an ORM profile, or a plain row of its columns."""

    @property
    def id(self) -> int: ...
    @property
    def account_id(self) -> int | None: ...
    @property
    def region_code(self) -> str: ...
    @property
    def phone(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class ProfileKind:
    """What differs between the two kinds of profile."""

    name: str
    model: type[Mentor] | type[Newcomer]
    product_model: type[MentorProduct] | type[NewcomerProduct]
    owner_role: Role
    # Staff roles that keep these profiles for people inside their jurisdiction.
    keeper_roles: tuple[Role, ...]
    # Staff roles that may read (but not change) them inside their jurisdiction.
    reader_roles: tuple[Role, ...]

    @property
    def list_roles(self) -> tuple[Role, ...]:
        """Who may list these profiles."""
        return (Role.ADMIN, *self.reader_roles)

    @property
    def create_roles(self) -> tuple[Role, ...]:
        """Who may create one: the owner for themself, or a keeper (or an admin) for someone else."""
        return (Role.ADMIN, self.owner_role, *self.keeper_roles)

    @property
    def view_roles(self) -> tuple[Role, ...]:
        """Who may ask for one (the object check decides which)."""
        return (Role.ADMIN, self.owner_role, *self.reader_roles)


MENTORS = ProfileKind(
    "mentor",
    Mentor,
    MentorProduct,
    Role.MENTOR,
    (Role.TOWNSHIP_OFFICE,),
    (Role.COORDINATOR, Role.TOWNSHIP_OFFICE),
)
NEWCOMERS = ProfileKind(
    "newcomer",
    Newcomer,
    NewcomerProduct,
    Role.NEWCOMER,
    (Role.COORDINATOR,),
    (Role.COORDINATOR, Role.TOWNSHIP_OFFICE),
)


def is_owner(caller: Caller, profile: ProfileFacts) -> bool:
    """The mobile user whose profile this is."""
    return profile.account_id is not None and profile.account_id == caller.id


def _keeps(kind: ProfileKind, caller: Caller, profile: ProfileFacts) -> bool:
    """Staff of a keeping role whose jurisdiction covers the profile."""
    return caller.role in kind.keeper_roles and caller.covers(profile.region_code)


def reviews_mentor(session: Session, caller: Caller, mentor_id: int) -> bool:
    """A coordinator with a proposal of this mentor in their queue judges the mentor's track record."""
    if caller.role is not Role.COORDINATOR:
        return False
    return bool(
        session.scalar(
            select(
                exists().where(
                    Match.mentor_id == mentor_id,
                    Match.status == MatchStatus.PROPOSED,
                    caller.scope(Match.newcomer_county_code),
                )
            )
        )
    )


def can_view(session: Session, kind: ProfileKind, caller: Caller, profile: ProfileFacts) -> bool:
    """Owner, admin, staff of a reading role covering the profile, or a reviewer of its proposals."""
    if is_owner(caller, profile) or caller.is_admin:
        return True
    if caller.role in kind.reader_roles and caller.covers(profile.region_code):
        return True
    return kind is MENTORS and reviews_mentor(session, caller, profile.id)


def visible(kind: ProfileKind, caller: Caller) -> ColumnElement[bool]:
    """SQL form of the list rule: profiles inside the caller's jurisdiction (all for admins)."""
    return caller.scope(kind.model.region_code)


def check_create(kind: ProfileKind, caller: Caller) -> int | None:
    """The account a new profile belongs to: the owner's own, or none when staff keep it (else 403)."""
    if caller.role is kind.owner_role:
        return caller.id
    if caller.is_admin or caller.role in kind.keeper_roles:
        return None
    raise Forbidden()


def check_edit(kind: ProfileKind, caller: Caller, profile: Profile) -> None:
    """Owner or admin; a keeper only while the seller has no account of their own (then 409)."""
    if is_owner(caller, profile) or caller.is_admin:
        return
    if not _keeps(kind, caller, profile):
        raise Forbidden()
    if profile.account_id is not None:
        raise Conflict(
            code="profile_has_account",
            detail=(
                "该资料由本人账户维护，只有本人或管理员可以修改",
                "this profile is kept by its seller's own account; only they or an admin may change it",
            ),
        )


def check_deactivate(kind: ProfileKind, caller: Caller, profile: Profile) -> None:
    """Owner, admin, or the keeping staff inside their jurisdiction (else 403)."""
    if not (is_owner(caller, profile) or caller.is_admin or _keeps(kind, caller, profile)):
        raise Forbidden()


def sees_full_phone(kind: ProfileKind, caller: Caller, profile: ProfileFacts) -> bool:
    """A phone in full only for its owner, admins, and the township office that keeps the profile.

    An office keeps a roster profile only: once the seller has an account the profile is theirs
    (check_edit refuses the office), and so is their number.
    """
    if is_owner(caller, profile) or caller.is_admin:
        return True
    return caller.is_office and profile.account_id is None and _keeps(kind, caller, profile)


def mask_phone(phone: str | None) -> str | None:
    """138****8000."""
    if not phone:
        return phone
    return f"{phone[:3]}****{phone[-4:]}"


def shown_phone(kind: ProfileKind, caller: Caller, profile: ProfileFacts) -> str | None:
    """The phone as this caller may see it."""
    return profile.phone if sees_full_phone(kind, caller, profile) else mask_phone(profile.phone)
