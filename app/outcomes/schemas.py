"""Bodies of a match's outcome: baseline, milestones and the before/after."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field, model_validator

from app.profiles.schemas import Channel, SalesBand
from app.schemas import Input, Output

MilestoneKind = Literal["store_opened", "first_sale", "monthly"]


class BaselineUpdate(Input):
    """The newcomer's business when the match began."""

    has_store: bool
    channels: list[Channel] = Field(default_factory=list, max_length=6)
    orders_per_month: int = Field(ge=0, le=1_000_000)
    sales_band: SalesBand | None = None
    on_behalf: bool = Field(default=False, description="Staff reporting for the newcomer")


class MilestoneCreate(Input):
    """One milestone: a store opened (channel, date), the first online sale (date), or a month's figures."""

    kind: MilestoneKind
    on_date: date
    channel: Channel | None = None
    orders_per_month: int | None = Field(default=None, ge=0, le=1_000_000)
    sales_band: SalesBand | None = None
    on_behalf: bool = Field(default=False, description="Staff reporting for the newcomer")

    @model_validator(mode="after")
    def _fields_fit_kind(self) -> MilestoneCreate:
        if self.kind != "monthly" and (self.orders_per_month is not None or self.sales_band is not None):
            raise ValueError("orders and sales band belong to a monthly report")
        if self.kind != "store_opened" and self.channel is not None:
            raise ValueError("a channel belongs to a store-opened report")
        return self


class MilestoneRead(Output):
    """A reported milestone."""

    id: int
    kind: str
    on_date: date
    channel: str | None
    orders_per_month: int | None
    sales_band: str | None
    on_behalf: bool


class Baseline(Output):
    """The situation at activation."""

    has_store: bool
    channels: list[str]
    orders_per_month: int
    sales_band: str | None


class BeforeAfter(Output):
    """What changed: days from activation to the first sale, and monthly orders now minus at the start."""

    store_opened_on: date | None
    store_channel: str | None
    first_sale_on: date | None
    days_to_first_sale: int | None
    latest_orders_per_month: int | None
    latest_sales_band: str | None
    orders_growth: int | None


class OutcomeRead(Output):
    """A match's outcome."""

    match_id: int
    activated_on: date
    pairing_type: str
    baseline: Baseline
    after: BeforeAfter
    milestones: list[MilestoneRead]
