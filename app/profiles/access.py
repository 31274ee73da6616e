"""Who may see and who may change a profile: the one place these object-level rules live."""

from __future__ import annotations

from dataclasses import dataclass

from app.deps import Caller
from app.models import Mentor, MentorProduct, Newcomer, NewcomerProduct

Profile = Mentor | Newcomer


@dataclass(frozen=True, slots=True)
class ProfileKind:
    """What differs between the two kinds of profile."""

    name: str
    model: type[Mentor] | type[Newcomer]
    product_model: type[MentorProduct] | type[NewcomerProduct]
    owner_role: str
    # Staff roles that keep these profiles for people inside their jurisdiction.
    keeper_roles: tuple[str, ...]
    # Staff roles that may read (but not change) them inside their jurisdiction.
    reader_roles: tuple[str, ...]


MENTORS = ProfileKind(
    "mentor", Mentor, MentorProduct, "mentor", ("township_office",), ("coordinator", "township_office")
)
NEWCOMERS = ProfileKind(
    "newcomer", Newcomer, NewcomerProduct, "newcomer", ("coordinator",), ("coordinator", "township_office")
)


def is_owner(caller: Caller, profile: Profile) -> bool:
    """The mobile user whose profile this is."""
    return profile.account_id is not None and profile.account_id == caller.id


def can_view(kind: ProfileKind, caller: Caller, profile: Profile) -> bool:
    """Owner, admin, or staff of a reading role whose jurisdiction covers the profile."""
    if is_owner(caller, profile) or caller.role == "admin":
        return True
    return caller.role in kind.reader_roles and caller.covers(profile.region_code)


def can_edit(kind: ProfileKind, caller: Caller, profile: Profile) -> bool:
    """Owner, admin, or the keeping staff role inside its jurisdiction."""
    if is_owner(caller, profile) or caller.role == "admin":
        return True
    return caller.role in kind.keeper_roles and caller.covers(profile.region_code)


def sees_full_phone(kind: ProfileKind, caller: Caller, profile: Profile) -> bool:
    """Phone numbers are personal data: only the owner, admins and the keeping office need them."""
    return can_edit(kind, caller, profile)


def mask_phone(phone: str | None) -> str | None:
    """138****8000."""
    if not phone:
        return phone
    return f"{phone[:3]}****{phone[-4:]}"
