"""Profile rules shared by mentors and newcomers: validation, create, update with ETag, list, mask."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.db import utcnow
from app.deps import Caller
from app.errors import Conflict, Forbidden, NotFound, PreconditionFailed, Unprocessable
from app.etags import check_if_match
from app.models import Category, Mentor, Region
from app.profiles.access import MENTORS, Profile, ProfileKind, can_edit, can_view, mask_phone, sees_full_phone
from app.profiles.derived import derived_columns
from matching.vocab import RESOURCE_TYPES


def _check_region(session: Session, caller: Caller, code: str) -> Region:
    region = session.get(Region, code)
    if region is None:
        raise Unprocessable(
            code="region_not_found", detail=(f"行政区划代码 {code} 不存在", f"no region {code}")
        )
    if len(code) < 6:
        raise Unprocessable(code="region_too_coarse")
    if caller.is_staff and not caller.covers(code):
        raise Unprocessable(code="region_outside_jurisdiction")
    return region


def _check_products(session: Session, codes: list[str]) -> None:
    known = set(session.scalars(select(Category.code).where(Category.code.in_(codes), Category.level == 2)))
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise Unprocessable(code="unknown_category", detail=", ".join(unknown), unknown=unknown)


def _apply(
    session: Session, kind: ProfileKind, caller: Caller, profile: Profile, data: dict[str, Any]
) -> None:
    """Copy validated fields onto the row, keeping the derived columns in step."""
    if "region_code" in data:
        _check_region(session, caller, data["region_code"])
    if "products" in data:
        _check_products(session, data["products"])
        products = data.pop("products")
        profile.products = [
            kind.product_model(category_code=c, position=i)  # type: ignore[misc]
            for i, c in enumerate(products)
        ]
    offers = data.get("resources_offered")
    resources = [o["type"] for o in offers] if offers is not None else data.get("resources_needed")
    derived = derived_columns(
        region_code=data.get("region_code"), channels=data.get("channels"), resources=resources
    )
    for column, value in derived.items():
        setattr(profile, column, value)
    for field, value in data.items():
        setattr(profile, field, value)


def create_profile(session: Session, kind: ProfileKind, caller: Caller, data: dict[str, Any]) -> Profile:
    """A mobile user's own profile, or one kept by staff for someone inside their jurisdiction."""
    if caller.role == kind.owner_role:
        exists = session.scalar(select(kind.model.id).where(kind.model.account_id == caller.id))
        if exists is not None:
            raise Conflict(code="profile_exists")
        account_id: int | None = caller.id
    elif caller.role in (*kind.keeper_roles, "admin"):
        account_id = None
    else:
        raise Forbidden()
    profile = kind.model(account_id=account_id)
    _apply(session, kind, caller, profile, data)
    session.add(profile)
    session.flush()
    return profile


def get_visible(session: Session, kind: ProfileKind, caller: Caller, profile_id: int) -> Profile:
    """A profile the caller may see; anything else is indistinguishable from a missing one (404)."""
    profile = session.get(kind.model, profile_id)
    if profile is None or not can_view(kind, caller, profile):
        raise NotFound()
    return profile


def get_own(session: Session, kind: ProfileKind, caller: Caller) -> Profile:
    """The caller's own profile, or 404 if they have not created it yet."""
    profile = session.scalar(select(kind.model).where(kind.model.account_id == caller.id))
    if profile is None:
        raise NotFound()
    return profile


def update_profile(
    session: Session,
    kind: ProfileKind,
    caller: Caller,
    profile: Profile,
    data: dict[str, Any],
    if_match: str | None,
) -> Profile:
    """Change a profile under optimistic locking (If-Match against the version)."""
    if not can_edit(kind, caller, profile):
        raise Forbidden()
    check_if_match(profile.version, if_match)
    if isinstance(profile, Mentor) and "capacity" in data and data["capacity"] < profile.capacity_used:
        raise Conflict(
            code="capacity_below_used",
            detail=(f"已有 {profile.capacity_used} 个结对占用名额", f"{profile.capacity_used} seats in use"),
        )
    _apply(session, kind, caller, profile, data)
    # Touch the row so the version (and ETag) moves even when only the product rows changed.
    profile.updated_at = utcnow()
    try:
        session.flush()
    except StaleDataError as exc:
        raise PreconditionFailed() from exc
    return profile


def deactivate_profile(session: Session, kind: ProfileKind, caller: Caller, profile: Profile) -> None:
    """Hide a profile from matching; the record and its history stay."""
    if not can_edit(kind, caller, profile):
        raise Forbidden()
    profile.is_active = False
    profile.updated_at = utcnow()
    session.flush()


@dataclass(frozen=True, slots=True)
class ProfileFilter:
    """List filters; each narrows the result."""

    region: str | None = None
    category: str | None = None
    resource: str | None = None
    q: str | None = None
    active: bool | None = True


def list_query(kind: ProfileKind, caller: Caller, f: ProfileFilter, after_id: int | None) -> Select[Any]:
    """Profiles in the caller's jurisdiction matching the filters, in id order after a cursor."""
    model = kind.model
    stmt = select(model).order_by(model.id)
    if caller.role != "admin":
        # Callers without a jurisdiction never reach here (role dependency), but fail closed anyway.
        stmt = stmt.where(model.region_code.startswith(caller.jurisdiction or "\x00", autoescape=True))
    if f.region:
        stmt = stmt.where(model.region_code.startswith(f.region, autoescape=True))
    if f.category:
        products = kind.product_model
        owner_col = products.mentor_id if kind is MENTORS else products.newcomer_id  # type: ignore[union-attr]
        pattern = (
            products.category_code == f.category
            if "." in f.category
            else products.category_code.startswith(f"{f.category}.", autoescape=True)
        )
        stmt = stmt.where(model.id.in_(select(owner_col).where(pattern)))
    if f.resource:
        stmt = stmt.where(model.resources_mask.op("&")(1 << RESOURCE_TYPES.index(f.resource)) != 0)
    if f.q:
        stmt = stmt.where(
            or_(model.name.contains(f.q, autoescape=True), model.story.contains(f.q, autoescape=True))
        )
    if f.active is not None:
        stmt = stmt.where(model.is_active == f.active)
    if after_id is not None:
        stmt = stmt.where(model.id > after_id)
    return stmt


def list_profiles(
    session: Session, kind: ProfileKind, caller: Caller, f: ProfileFilter, after_id: int | None, limit: int
) -> list[Profile]:
    """One keyset page of profiles."""
    return list(session.scalars(list_query(kind, caller, f, after_id).limit(limit)))


def count_profiles(session: Session, kind: ProfileKind) -> int:
    """All profiles of a kind (for seeding reports)."""
    return session.scalar(select(func.count()).select_from(kind.model)) or 0


def to_read(kind: ProfileKind, caller: Caller, profile: Profile) -> dict[str, Any]:
    """The response fields of a profile, phone masked unless the caller needs it."""
    data = {c.key: getattr(profile, c.key) for c in profile.__table__.columns}
    data["products"] = [p.category_code for p in profile.products]
    data["has_account"] = profile.account_id is not None
    if not sees_full_phone(kind, caller, profile):
        data["phone"] = mask_phone(profile.phone)
    if isinstance(profile, Mentor):
        data["capacity_left"] = profile.capacity - profile.capacity_used
    return data
