"""Profile rules shared by mentors and newcomers: validation, create, update with ETag, list, mask."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Label, Select, String, bindparam, cast, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.access import Caller
from app.access.profiles import (
    MENTORS,
    Profile,
    ProfileKind,
    can_view,
    check_create,
    check_deactivate,
    check_edit,
    visible,
)
from app.access.regions import under_indexed
from app.db import utcnow
from app.errors import Conflict, NotFound, PreconditionFailed, Unprocessable
from app.etags import check_if_match
from app.honours.rules import keeping_awarded, not_held
from app.matches import reasons
from app.matches.service import cancel_for_deactivated
from app.matches.states import withdraw_pending
from app.models import Category, Mentor, Region
from app.pagination import Paged, asc, paginate
from app.plain_reads import PlainSelect, id_in
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
    if "honours" in data and isinstance(profile, Mentor):
        held = list(profile.honours or [])
        claimed = not_held(data["honours"], held)
        if claimed:
            listed = "、".join(claimed)
            raise Unprocessable(
                (
                    f"荣誉“{listed}”由平台根据带徒成效评定、协调员确认后授予，不能手工填写。",
                    f"The honour {listed} is awarded by the service after a coordinator confirms it; "
                    "it cannot be set by hand.",
                ),
                code="honour_not_held",
                titles=claimed,
            )
        data["honours"] = keeping_awarded(data["honours"], held)
    for field, value in data.items():
        setattr(profile, field, value)


def _changes(profile: Profile, data: dict[str, Any]) -> bool:
    """Whether applying `data` would change anything the profile shows."""
    for field, value in data.items():
        if field == "products":
            now = [p.category_code for p in profile.products]
        elif field == "honours" and isinstance(profile, Mentor):
            now, value = list(profile.honours or []), keeping_awarded(value, list(profile.honours or []))
        else:
            now = getattr(profile, field)
        if now != value:
            return True
    return False


def create_profile(session: Session, kind: ProfileKind, caller: Caller, data: dict[str, Any]) -> Profile:
    """A mobile user's own profile, or one kept by staff for someone inside their jurisdiction."""
    account_id = check_create(kind, caller)
    if account_id is not None:
        exists = session.scalar(select(kind.model.id).where(kind.model.account_id == account_id))
        if exists is not None:
            raise Conflict(code="profile_exists")
    profile = kind.model(account_id=account_id)
    _apply(session, kind, caller, profile, data)
    _refuse_duplicate(session, kind, caller, profile)
    try:
        # The unique account_id decides a race between two creates by one account, not the check above.
        with session.begin_nested():
            session.add(profile)
            session.flush()
    except IntegrityError as exc:
        if account_id is not None and session.scalar(
            select(kind.model.id).where(kind.model.account_id == account_id)
        ):
            raise Conflict(code="profile_exists") from exc
        raise
    return profile


def _refuse_duplicate(session: Session, kind: ProfileKind, caller: Caller, profile: Profile) -> None:
    """409 duplicate_profile if an active profile of the same kind that the caller keeps or reviews has
    this name and this phone: it is the same person, and a second profile would let them hold a second
    seat (or a newcomer a second mentor). A shared phone under another name is a family's, and allowed;
    a profile outside the caller's jurisdiction is not looked at, so nothing is told about it."""
    if profile.phone is None:
        return
    model = kind.model
    stmt = select(model.id).where(
        model.is_active.is_(True),
        model.phone == profile.phone,
        model.name == profile.name,
        visible(kind, caller),
    )
    if profile.id is not None:
        stmt = stmt.where(model.id != profile.id)
    with session.no_autoflush:  # an edit's own row is flushed under its version check, not here
        twin = session.scalar(stmt.limit(1))
    if twin is not None:
        raise Conflict(
            code="duplicate_profile",
            detail=(
                f"本辖区已有同名同电话的资料 #{twin}，请编辑那份资料",
                f"profile #{twin} in your jurisdiction has this name and phone; edit that one instead",
            ),
            profile_id=twin,
        )


def get_visible(session: Session, kind: ProfileKind, caller: Caller, profile_id: int) -> Profile:
    """A profile the caller may see; anything else is indistinguishable from a missing one (404)."""
    profile = session.get(kind.model, profile_id)
    if profile is None or not can_view(session, kind, caller, profile):
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
    check_edit(kind, caller, profile)
    check_if_match(profile.version, if_match)
    if isinstance(profile, Mentor) and "capacity" in data and data["capacity"] < profile.capacity_used:
        raise Conflict(
            code="capacity_below_used",
            detail=(f"已有 {profile.capacity_used} 个结对占用名额", f"{profile.capacity_used} seats in use"),
        )
    if not _changes(profile, data):
        # The same values again (a retry, a form saved unchanged): the row, its version and ETag stay.
        return profile
    county = profile.county_code
    _apply(session, kind, caller, profile, data)
    if data.keys() & {"name", "phone"}:
        _refuse_duplicate(session, kind, caller, profile)
    # Touch the row so the version (and ETag) moves even when only the product rows changed.
    profile.updated_at = utcnow()
    try:
        session.flush()
    except StaleDataError as exc:
        raise PreconditionFailed() from exc
    if profile.county_code != county:
        withdraw_pending(session, profile, actor_id=caller.id, reason=reasons.PARTY_MOVED)
    return profile


def deactivate_profile(session: Session, kind: ProfileKind, caller: Caller, profile: Profile) -> None:
    """Hide a profile from matching; the record and its history stay."""
    check_deactivate(kind, caller, profile)
    profile.is_active = False
    profile.updated_at = utcnow()
    session.flush()
    withdraw_pending(session, profile, actor_id=caller.id, reason=reasons.PARTY_DEACTIVATED)
    cancel_for_deactivated(session, profile, actor_id=caller.id)


@dataclass(frozen=True, slots=True)
class ProfileFilter:
    """List filters; each narrows the result."""

    region: str | None = None
    category: str | None = None
    resource: str | None = None
    q: str | None = None
    active: bool | None = True


def list_query(
    kind: ProfileKind, caller: Caller, f: ProfileFilter, columns: Sequence[Any] | None = None
) -> Select[Any]:
    """Profiles in the caller's jurisdiction matching the filters (whole rows, or just `columns`)."""
    model = kind.model
    stmt = (select_columns(tuple(columns)) if columns else select(model)).where(visible(kind, caller))
    if f.region:
        stmt = stmt.where(under_indexed(model.region_code, f.region))
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
    return stmt


def list_profiles(
    session: Session, kind: ProfileKind, caller: Caller, f: ProfileFilter, cursor: str | None, limit: int
) -> Paged[Profile]:
    """One keyset page of profiles, in id order."""
    return paginate(session, list_query(kind, caller, f), [asc(kind.model.id)], cursor, limit)


@cache
def select_columns(columns: tuple[Any, ...]) -> Select[Any]:
    """A SELECT of these columns, built once per column tuple."""
    # Built once per column list: coercing two dozen ORM attributes costs more than the query itself.
    return select(*columns)


@cache
def products_column(kind: ProfileKind) -> Label[str | None]:
    """Each profile's product codes in one correlated column, "position:code" items joined by commas.

    One query for a page, instead of the page and then its product rows. Positions travel with the
    codes because neither database guarantees the order of an aggregate's input (SQLite before 3.44
    cannot sort inside one); `product_list` puts them in order. Codes hold no ":" or ",".
    """
    products = kind.product_model
    owner = products.mentor_id if kind is MENTORS else products.newcomer_id  # type: ignore[union-attr]
    item = cast(products.position, String) + ":" + products.category_code
    return (
        select(func.aggregate_strings(item, ","))
        .where(owner == kind.model.id)
        .scalar_subquery()
        .label("product_codes")
    )


def product_list(packed: str | None) -> list[str]:
    """The codes of a `products_column` value, in position order."""
    if not packed:
        return []
    items = [item.split(":", 1) for item in packed.split(",")]
    items.sort(key=lambda pair: int(pair[0]))
    return [code for _, code in items]


def list_rows(
    session: Session,
    kind: ProfileKind,
    caller: Caller,
    f: ProfileFilter,
    cursor: str | None,
    limit: int,
    columns: Sequence[Any],
) -> Paged[Any]:
    """One keyset page (as `list_profiles`) as plain rows of `columns` plus `product_codes`: two queries.

    The page's ids first, then the columns and products of those ids only: with the correlated
    products column in the paged statement, SQLite built it for every profile in the jurisdiction
    before sorting and cutting the page (about twice the time of the two statements together).
    """
    ids = paginate(
        session, list_query(kind, caller, f, (kind.model.id,)), [asc(kind.model.id)], cursor, limit
    )
    if not ids.items:
        return Paged([], ids.next_cursor)
    return ids.rows_by_id(
        _rows_by_id(kind, tuple(columns)).rows(session.connection(), {"ids": [r.id for r in ids.items]})
    )


@cache
def _rows_by_id(kind: ProfileKind, columns: tuple[Any, ...]) -> PlainSelect:
    # Built and compiled once: the id list is bound at run time, as one parameter.
    return PlainSelect(select(*columns, products_column(kind)).where(id_in(kind.model.id, "ids")))


@cache
def _one_row(kind: ProfileKind, columns: tuple[Any, ...]) -> PlainSelect:
    one = kind.model.id == bindparam("profile_id")
    return PlainSelect(select(*columns, products_column(kind)).where(one))


def get_visible_row(
    session: Session, kind: ProfileKind, caller: Caller, profile_id: int, columns: Sequence[Any]
) -> Any:
    """A profile the caller may see (as `get_visible`), as a plain row of `columns` plus `product_codes`."""
    row = _one_row(kind, tuple(columns)).first(session.connection(), {"profile_id": profile_id})
    if row is None or not can_view(session, kind, caller, row):
        raise NotFound()
    return row
