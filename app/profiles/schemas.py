"""Mentor and newcomer bodies: Create / Update / Read. Server-owned fields are never accepted."""

from __future__ import annotations

import types
from collections.abc import Callable
from datetime import datetime
from operator import attrgetter, itemgetter
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import ConfigDict, Field, field_validator
from sqlalchemy import Row

from app.honours import rules
from app.models import Mentor, Newcomer
from app.schemas import Input, Output, PhoneStr, RegionCodeStr, not_null, refusal
from matching import vocab

# One bound for the API and the roster import (app/imports/validate/rows.py).
MAX_EMPLOYEES = 1_000_000

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
        raise refusal("有重复的值", "duplicate values")
    return values


def _unique_optional(values: list[str] | None) -> list[str] | None:
    return None if values is None else _unique(values)


def _not_awarded(values: list[str] | None) -> list[str] | None:
    # A title the service awards on the evidence (带徒标兵…) cannot be written onto a profile by hand.
    # Its exact spelling passes here, so that a client may send back the list it read; the service
    # refuses it unless the profile holds it (rules.not_held).
    claimed = [t for t in rules.awarded_among(values or []) if t not in rules.AWARDED_TITLES]
    if claimed:
        raise refusal(
            f"“{'、'.join(claimed)}”由平台在协调员确认后授予，不能手工填写",
            f"awarded by the service after a coordinator confirms it, not set by hand: {', '.join(claimed)}",
        )
    return values


def required_fields(model: type[Input]) -> tuple[str, ...]:
    """Fields of a full profile body that cannot hold null: an update may omit them, not null them."""

    def nullable(annotation: Any) -> bool:
        return get_origin(annotation) in (Union, types.UnionType) and type(None) in get_args(annotation)

    return tuple(name for name, f in model.model_fields.items() if not nullable(f.annotation))


# The documented bodies; the tests build their valid payloads from these, so the examples stay valid.
MENTOR_EXAMPLE: dict[str, Any] = {
    "name": "沭阳花木合作社",
    "kind": "cooperative",
    "region_code": "321322115",
    "products": ["flowers.seedlings", "flowers.pots_miniascape"],
    "channels": ["taobao", "douyin"],
    "years_selling": 8,
    "sales_band": "100-500",
    "resources_offered": [
        {"type": "logistics", "description": "共享冷链和快递协议价"},
        {"type": "technology", "description": "直播带货培训"},
    ],
    "capacity": 3,
    "languages": ["mandarin"],
    "honours": ["电商示范户"],
    "contact_name": "王经理",
    "phone": "13912345678",
    "story": "从一个大棚做到全镇联营",
}
NEWCOMER_EXAMPLE: dict[str, Any] = {
    "name": "李大姐",
    "region_code": "371721121",
    "products": ["tea.growing"],
    "channels": ["pinduoduo"],
    "experience_years": 0,
    "resources_needed": ["technology", "logistics"],
    "internet": "mobile",
    "courier_km": 3.5,
    "phone": "13700001111",
    "goals": "把自家茶叶卖到全国",
}


class ResourceOffer(Input):
    """One kind of resource a mentor shares, with a short description."""

    type: ResourceType
    """information, technology, human_capital or logistics (GET /api/v1/vocabularies)"""
    description: str = Field(default="", max_length=500)
    """What exactly is shared, in the mentor's words"""


class ResourceOfferRead(Output):
    """A resource offer as stored."""

    type: ResourceType
    """The resource type code"""
    description: str
    """What exactly is shared"""


class MentorFields(Input):
    """Fields a mentor profile's keeper may set."""

    name: Name
    """Seller's name as customers know it (household, cooperative or company)"""
    kind: MentorKind
    """household, cooperative or enterprise"""
    region_code: RegionCodeStr
    """Where the seller is: a county (6 digits) or finer, ideally the township (9)"""
    products: list[CategoryCode] = Field(min_length=1, max_length=10)
    """Product category codes (leaves of GET /api/v1/categories), main product first"""
    channels: list[Channel] = Field(default_factory=list, max_length=6)
    """Where they sell: taobao, pinduoduo, jd, douyin, kuaishou, wechat"""
    years_selling: int | None = Field(default=None, ge=0, le=80)
    """Years of selling online"""
    sales_band: SalesBand | None = None
    """Annual sales band in 10,000 CNY: lt10, 10-50, 50-100, 100-500, 500-1000, ge1000"""
    orders_per_month: int | None = Field(default=None, ge=0, le=10_000_000)
    """Typical online orders a month"""
    employees: int | None = Field(default=None, ge=0, le=MAX_EMPLOYEES)
    """People employed"""
    resources_offered: list[ResourceOffer] = Field(min_length=1, max_length=4)
    """What the mentor shares: one entry per resource type"""
    capacity: int = Field(default=3, ge=1, le=20)
    """How many newcomers at once (1 to 20); approved and active matches hold a seat each"""
    languages: list[Language] = Field(default_factory=lambda: ["mandarin"], max_length=14)
    """Languages and dialects spoken (GET /api/v1/vocabularies: languages)"""
    honours: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=20
    )
    """Titles held, e.g. 电商示范户 (confirmed honours are added by the service)"""
    contact_name: str | None = Field(default=None, max_length=64)
    """Who to talk to"""
    phone: PhoneStr | None = None
    """Contact phone; masked to viewers who do not need it"""
    story: ShortText = ""
    """Free text: how they started, what they sell, what they can teach"""

    _u_products = field_validator("products", "channels", "languages")(_unique)
    _titles = field_validator("honours")(_not_awarded)

    @field_validator("resources_offered")
    @classmethod
    def _one_offer_per_type(cls, v: list[ResourceOffer]) -> list[ResourceOffer]:
        _unique([o.type for o in v])
        return v


class MentorCreate(MentorFields):
    """A new mentor profile (a mentor for themself, or a township office for its roster)."""

    model_config = ConfigDict(json_schema_extra={"examples": [MENTOR_EXAMPLE]})


class MentorUpdate(Input):
    """A partial update; only the fields sent change."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"capacity": 5, "channels": ["taobao", "douyin", "wechat"]}]}
    )

    name: Name | None = None
    """Seller's name as customers know it (household, cooperative or company)"""
    kind: MentorKind | None = None
    """household, cooperative or enterprise"""
    region_code: RegionCodeStr | None = None
    """Where the seller is: a county (6 digits) or finer, ideally the township (9)"""
    products: list[CategoryCode] | None = Field(default=None, min_length=1, max_length=10)
    """Product category codes (leaves of GET /api/v1/categories), main product first"""
    channels: list[Channel] | None = Field(default=None, max_length=6)
    """Where they sell: taobao, pinduoduo, jd, douyin, kuaishou, wechat"""
    years_selling: int | None = Field(default=None, ge=0, le=80)
    """Years of selling online"""
    sales_band: SalesBand | None = None
    """Annual sales band in 10,000 CNY: lt10, 10-50, 50-100, 100-500, 500-1000, ge1000"""
    orders_per_month: int | None = Field(default=None, ge=0, le=10_000_000)
    """Typical online orders a month"""
    employees: int | None = Field(default=None, ge=0, le=MAX_EMPLOYEES)
    """People employed"""
    resources_offered: list[ResourceOffer] | None = Field(default=None, min_length=1, max_length=4)
    """What the mentor shares: one entry per resource type"""
    capacity: int | None = Field(default=None, ge=1, le=20)
    """How many newcomers at once (1 to 20); approved and active matches hold a seat each"""
    languages: list[Language] | None = Field(default=None, max_length=14)
    """Languages and dialects spoken (GET /api/v1/vocabularies: languages)"""
    honours: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        default=None, max_length=20
    )
    """Titles held, e.g. 电商示范户 (confirmed honours are added by the service)"""
    contact_name: str | None = Field(default=None, max_length=64)
    """Who to talk to"""
    phone: PhoneStr | None = None
    """Contact phone; masked to viewers who do not need it"""
    story: ShortText | None = None
    """Free text: how they started, what they sell, what they can teach"""

    _u = field_validator("products", "channels", "languages")(_unique_optional)
    _titles = field_validator("honours")(_not_awarded)
    _nn = field_validator(*required_fields(MentorFields))(not_null)


class ProfileReadBase(Output):
    """Fields every profile shows."""

    id: int
    """Profile id"""
    name: str
    """Name of the seller or newcomer"""
    region_code: str
    """Most precise division known (county or finer)"""
    county_code: str
    """The county: first six digits of region_code (the cross-region rule compares it)"""
    products: list[str]
    """Category codes, main product first"""
    channels: list[str]
    """Selling channels (of interest, for a newcomer)"""
    languages: list[str]
    """Languages and dialects"""
    phone: str | None = Field(description="Masked (138****8000) unless the viewer needs the number")
    story: str
    """Free text in their words"""
    is_active: bool
    """false once deactivated: out of matching"""
    has_account: bool
    """The person keeps the profile through their own account"""
    version: int
    """Row version; the ETag header carries it for If-Match"""
    created_at: datetime
    """When created (UTC)"""
    updated_at: datetime
    """When last changed (UTC)"""

    @classmethod
    def of(cls, profile: Mentor | Newcomer, *, phone: str | None) -> ProfileReadBase:
        """Map a profile; the phone comes as the access rules let the caller see it."""
        body = BODIES[cls](profile, products=[p.category_code for p in profile.products], phone=phone)
        return cls.model_validate(body)


class MentorRead(ProfileReadBase):
    """A mentor profile."""

    kind: str
    """household, cooperative or enterprise"""
    contact_name: str | None
    """Who to talk to"""
    years_selling: int | None
    """Years of selling online"""
    sales_band: str | None
    """Annual sales band (10,000 CNY)"""
    orders_per_month: int | None
    """Typical online orders a month"""
    employees: int | None
    """People employed"""
    resources_offered: list[ResourceOfferRead]
    """What the mentor shares, by resource type"""
    capacity: int
    """Newcomers at once"""
    capacity_used: int
    """Seats held by approved or active matches"""
    capacity_left: int
    """capacity - capacity_used"""
    honours: list[str]
    """Titles held (imported, or confirmed honours)"""
    fulfilment_rate: float | None
    """Share of commitment periods kept: (done + half of partial) / all; null before any"""


class NewcomerFields(Input):
    """Fields a newcomer profile's keeper may set."""

    name: Name
    """The newcomer's name (a person or a family)"""
    region_code: RegionCodeStr
    """Where they are: a county (6 digits) or finer, ideally the township (9)"""
    products: list[CategoryCode] = Field(min_length=1, max_length=10)
    """Product category codes they produce or plan (leaves of GET /api/v1/categories), main first"""
    channels: list[Channel] = Field(default_factory=list, max_length=6)
    """Channels of interest: taobao, pinduoduo, jd, douyin, kuaishou, wechat"""
    experience_years: int = Field(default=0, ge=0, le=80)
    """Years of selling online so far (0: not yet)"""
    resources_needed: list[ResourceType] = Field(min_length=1, max_length=4)
    """What they need: information, technology, human_capital, logistics"""
    internet: Internet = "mobile"
    """Internet at home: none, mobile or broadband"""
    courier_km: float | None = Field(default=None, ge=0, le=1000)
    """Distance to the nearest courier point, in km"""
    languages: list[Language] = Field(default_factory=lambda: ["mandarin"], max_length=14)
    """Languages and dialects spoken (GET /api/v1/vocabularies: languages)"""
    phone: PhoneStr | None = None
    """Contact phone; masked to viewers who do not need it"""
    goals: ShortText = ""
    """What they want to reach, in their words"""
    story: ShortText = ""
    """Free text about their farm and plans"""

    _u = field_validator("products", "channels", "languages", "resources_needed")(_unique)


class NewcomerCreate(NewcomerFields):
    """A new newcomer profile (a newcomer for themself, or a coordinator on their behalf)."""

    model_config = ConfigDict(json_schema_extra={"examples": [NEWCOMER_EXAMPLE]})


class NewcomerUpdate(Input):
    """A partial update; only the fields sent change."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"resources_needed": ["technology"], "goals": "先在拼多多开店"}]}
    )

    name: Name | None = None
    """The newcomer's name (a person or a family)"""
    region_code: RegionCodeStr | None = None
    """Where they are: a county (6 digits) or finer, ideally the township (9)"""
    products: list[CategoryCode] | None = Field(default=None, min_length=1, max_length=10)
    """Product category codes they produce or plan (leaves of GET /api/v1/categories), main first"""
    channels: list[Channel] | None = Field(default=None, max_length=6)
    """Channels of interest: taobao, pinduoduo, jd, douyin, kuaishou, wechat"""
    experience_years: int | None = Field(default=None, ge=0, le=80)
    """Years of selling online so far (0: not yet)"""
    resources_needed: list[ResourceType] | None = Field(default=None, min_length=1, max_length=4)
    """What they need: information, technology, human_capital, logistics"""
    internet: Internet | None = None
    """Internet at home: none, mobile or broadband"""
    courier_km: float | None = Field(default=None, ge=0, le=1000)
    """Distance to the nearest courier point, in km"""
    languages: list[Language] | None = Field(default=None, max_length=14)
    """Languages and dialects spoken (GET /api/v1/vocabularies: languages)"""
    phone: PhoneStr | None = None
    """Contact phone; masked to viewers who do not need it"""
    goals: ShortText | None = None
    """What they want to reach, in their words"""
    story: ShortText | None = None
    """Free text about their farm and plans"""

    _u = field_validator("products", "channels", "languages", "resources_needed")(_unique_optional)
    _nn = field_validator(*required_fields(NewcomerFields))(not_null)


class NewcomerRead(ProfileReadBase):
    """A newcomer profile."""

    experience_years: int
    """Years of selling online so far"""
    resources_needed: list[str]
    """Resource types needed"""
    internet: str
    """none, mobile or broadband"""
    courier_km: float | None
    """Distance to the nearest courier point (km)"""
    goals: str
    """What they want to reach"""


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
        getters = self._by_position if isinstance(row, Row | tuple) else self._by_attribute
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
