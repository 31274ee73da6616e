"""Mentor and newcomer bodies: Create / Update / Read. Server-owned fields are never accepted."""

from __future__ import annotations

import types
from collections.abc import Callable
from datetime import datetime
from operator import attrgetter, itemgetter
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import Field, field_validator
from sqlalchemy import Row

from app.models import Mentor, Newcomer
from app.schemas import Input, Output, PhoneStr, RegionCodeStr
from matching import vocab

# The closed vocabularies live in matching.vocab; these aliases make them request-validating types.
ResourceType = Literal[vocab.RESOURCE_TYPES]  # type: ignore[valid-type]
Channel = Literal[vocab.CHANNELS]  # type: ignore[valid-type]
Language = Literal[vocab.LANGUAGES]  # type: ignore[valid-type]
MentorKind = Literal[vocab.MENTOR_KINDS]  # type: ignore[valid-type]
SalesBand = Literal[tuple(code for code, _, _ in vocab.SALES_BANDS)]  # type: ignore[valid-type]
Internet = Literal["none", "mobile", "broadband"]
CategoryCode = Annotated[str, Field(min_length=3, max_length=64, pattern=r"^[a-z_]+\.[a-z_]+$")]
Name = Annotated[str, Field(min_length=1, max_length=128)]
ShortText = Annotated[str, Field(max_length=2000)]


def _unique(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("duplicate values")
    return values


def _unique_optional(values: list[str] | None) -> list[str] | None:
    return None if values is None else _unique(values)


def _not_null(value: Any) -> Any:
    # Partial updates leave out what they do not change; null would erase a value the profile needs.
    if value is None:
        raise ValueError("may not be null: leave the field out to keep its value")
    return value


def required_fields(model: type[Input]) -> tuple[str, ...]:
    """Fields of a full profile body that cannot hold null: an update may omit them, not null them."""

    def nullable(annotation: Any) -> bool:
        return get_origin(annotation) in (Union, types.UnionType) and type(None) in get_args(annotation)

    return tuple(name for name, f in model.model_fields.items() if not nullable(f.annotation))


class ResourceOffer(Input):
    """One kind of resource a mentor shares, with a short description."""

    type: ResourceType
    description: str = Field(default="", max_length=500)


class ResourceOfferRead(Output):
    """A resource offer as stored."""

    type: ResourceType
    description: str


class MentorFields(Input):
    """Fields a mentor profile's keeper may set."""

    name: Name
    kind: MentorKind
    region_code: RegionCodeStr
    products: list[CategoryCode] = Field(min_length=1, max_length=10)
    channels: list[Channel] = Field(default_factory=list, max_length=6)
    years_selling: int | None = Field(default=None, ge=0, le=80)
    sales_band: SalesBand | None = None
    orders_per_month: int | None = Field(default=None, ge=0, le=10_000_000)
    employees: int | None = Field(default=None, ge=0, le=1_000_000)
    resources_offered: list[ResourceOffer] = Field(min_length=1, max_length=4)
    capacity: int = Field(default=3, ge=1, le=20)
    languages: list[Language] = Field(default_factory=lambda: ["mandarin"], max_length=14)
    honours: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=20
    )
    contact_name: str | None = Field(default=None, max_length=64)
    phone: PhoneStr | None = None
    story: ShortText = ""

    _u_products = field_validator("products", "channels", "languages")(_unique)

    @field_validator("resources_offered")
    @classmethod
    def _one_offer_per_type(cls, v: list[ResourceOffer]) -> list[ResourceOffer]:
        _unique([o.type for o in v])
        return v


class MentorCreate(MentorFields):
    """A new mentor profile (a mentor for themself, or a township office for its roster)."""


class MentorUpdate(Input):
    """A partial update; only the fields sent change."""

    name: Name | None = None
    kind: MentorKind | None = None
    region_code: RegionCodeStr | None = None
    products: list[CategoryCode] | None = Field(default=None, min_length=1, max_length=10)
    channels: list[Channel] | None = Field(default=None, max_length=6)
    years_selling: int | None = Field(default=None, ge=0, le=80)
    sales_band: SalesBand | None = None
    orders_per_month: int | None = Field(default=None, ge=0, le=10_000_000)
    employees: int | None = Field(default=None, ge=0, le=1_000_000)
    resources_offered: list[ResourceOffer] | None = Field(default=None, min_length=1, max_length=4)
    capacity: int | None = Field(default=None, ge=1, le=20)
    languages: list[Language] | None = Field(default=None, max_length=14)
    honours: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        default=None, max_length=20
    )
    contact_name: str | None = Field(default=None, max_length=64)
    phone: PhoneStr | None = None
    story: ShortText | None = None

    _u = field_validator("products", "channels", "languages")(_unique_optional)
    _nn = field_validator(*required_fields(MentorFields))(_not_null)


class ProfileReadBase(Output):
    """Fields every profile shows."""

    id: int
    name: str
    region_code: str
    county_code: str
    products: list[str]
    channels: list[str]
    languages: list[str]
    phone: str | None = Field(description="Masked (138****8000) unless the viewer needs the number")
    story: str
    is_active: bool
    has_account: bool
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, profile: Mentor | Newcomer, *, phone: str | None) -> ProfileReadBase:
        """Map a profile; the phone comes as the access rules let the caller see it."""
        body = BODIES[cls](profile, products=[p.category_code for p in profile.products], phone=phone)
        return cls.model_validate(body)


class MentorRead(ProfileReadBase):
    """A mentor profile."""

    kind: str
    contact_name: str | None
    years_selling: int | None
    sales_band: str | None
    orders_per_month: int | None
    employees: int | None
    resources_offered: list[ResourceOfferRead]
    capacity: int
    capacity_used: int
    capacity_left: int
    honours: list[str]
    fulfilment_rate: float | None


class NewcomerFields(Input):
    """Fields a newcomer profile's keeper may set."""

    name: Name
    region_code: RegionCodeStr
    products: list[CategoryCode] = Field(min_length=1, max_length=10)
    channels: list[Channel] = Field(default_factory=list, max_length=6)
    experience_years: int = Field(default=0, ge=0, le=80)
    resources_needed: list[ResourceType] = Field(min_length=1, max_length=4)
    internet: Internet = "mobile"
    courier_km: float | None = Field(default=None, ge=0, le=1000)
    languages: list[Language] = Field(default_factory=lambda: ["mandarin"], max_length=14)
    phone: PhoneStr | None = None
    goals: ShortText = ""
    story: ShortText = ""

    _u = field_validator("products", "channels", "languages", "resources_needed")(_unique)


class NewcomerCreate(NewcomerFields):
    """A new newcomer profile (a newcomer for themself, or a coordinator on their behalf)."""


class NewcomerUpdate(Input):
    """A partial update; only the fields sent change."""

    name: Name | None = None
    region_code: RegionCodeStr | None = None
    products: list[CategoryCode] | None = Field(default=None, min_length=1, max_length=10)
    channels: list[Channel] | None = Field(default=None, max_length=6)
    experience_years: int | None = Field(default=None, ge=0, le=80)
    resources_needed: list[ResourceType] | None = Field(default=None, min_length=1, max_length=4)
    internet: Internet | None = None
    courier_km: float | None = Field(default=None, ge=0, le=1000)
    languages: list[Language] | None = Field(default=None, max_length=14)
    phone: PhoneStr | None = None
    goals: ShortText | None = None
    story: ShortText | None = None

    _u = field_validator("products", "channels", "languages", "resources_needed")(_unique_optional)
    _nn = field_validator(*required_fields(NewcomerFields))(_not_null)


class NewcomerRead(ProfileReadBase):
    """A newcomer profile."""

    experience_years: int
    resources_needed: list[str]
    internet: str
    courier_km: float | None
    goals: str


def _offers(row: Any) -> list[dict[str, str]]:
    # Only the two fields of ResourceOfferRead, whatever else a stored offer carries.
    return [{"type": o["type"], "description": o["description"]} for o in row.resources_offered]


# Fields that are not a column of the same name: how each is derived from the row.
_DERIVED: dict[str, Callable[[Any], Any]] = {
    "has_account": lambda row: row.account_id is not None,
    "capacity_left": lambda row: row.capacity - row.capacity_used,
    "resources_offered": _offers,
}


class ProfileBody:
    """A read model's JSON body built straight from a row: a Core row of `columns`, or an ORM profile.

    The page and the single profile are built here, with no ORM objects and no second validation
    pass; `ProfileReadBase.of` validates the same dict, and a test holds the two to each other.
    """

    def __init__(self, model: type[ProfileReadBase], orm: type[Mentor] | type[Newcomer]) -> None:
        self.model = model
        wanted = {*model.model_fields, "account_id", "capacity", "capacity_used"}
        # The columns to select: the body's own, and what the derived fields and access rules read.
        self.columns = [getattr(orm, c.key) for c in orm.__table__.columns if c.key in wanted]
        position = {c.key: i for i, c in enumerate(self.columns)}
        given = {"products", "phone"}  # passed in: product rows and the phone as the caller may see it
        # A plain Row is read by position (cheaper than by name); an ORM object by attribute.
        self._by_position = [
            (name, _DERIVED.get(name) or (itemgetter(position[name]) if name not in given else _none))
            for name in model.model_fields
        ]
        self._by_attribute = [
            (name, _DERIVED.get(name) or (attrgetter(name) if name not in given else _none))
            for name in model.model_fields
        ]

    def __call__(self, row: Any, *, products: list[str], phone: str | None) -> dict[str, Any]:
        """The body of one profile; `products` in order, `phone` masked or not by the access rules."""
        getters = self._by_position if isinstance(row, Row) else self._by_attribute
        body = {name: get(row) for name, get in getters}
        body["products"] = products
        body["phone"] = phone
        return body


def _none(_row: Any) -> None:
    return None


BODIES: dict[type[ProfileReadBase], ProfileBody] = {
    MentorRead: ProfileBody(MentorRead, Mentor),
    NewcomerRead: ProfileBody(NewcomerRead, Newcomer),
}
