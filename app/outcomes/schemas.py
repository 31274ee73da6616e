"""Bodies of a match's outcome: baseline, milestones and the before/after."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from app.profiles.schemas import Channel, SalesBand
from app.schemas import Input, Output, refusal

MilestoneKind = Literal["store_opened", "first_sale", "monthly"]


class BaselineUpdate(Input):
    """The newcomer's business when the match began."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"has_store": True, "channels": ["pinduoduo"], "orders_per_month": 4, "sales_band": "lt10"}
            ]
        }
    )

    has_store: bool
    """Whether they already had an online store"""
    channels: list[Channel] = Field(default_factory=list, max_length=6)
    """Where they sold then"""
    orders_per_month: int = Field(ge=0, le=1_000_000)
    """Online orders a month then"""
    sales_band: SalesBand | None = None
    """Annual sales band then (10,000 CNY)"""
    on_behalf: bool = Field(default=False, description="Staff reporting for the newcomer")


class MilestoneCreate(Input):
    """One milestone: a store opened (channel, date), the first online sale (date), or a month's figures."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"kind": "store_opened", "on_date": "2026-12-05", "channel": "douyin"},
                {"kind": "first_sale", "on_date": "2026-12-09"},
                {"kind": "monthly", "on_date": "2027-01-31", "orders_per_month": 35, "sales_band": "10-50"},
            ]
        }
    )

    kind: MilestoneKind
    """store_opened (with channel), first_sale, or monthly (with orders and sales band)"""
    on_date: date
    """When it happened (a monthly report: the month's last day)"""
    channel: Channel | None = None
    """store_opened only: where the store is"""
    orders_per_month: int | None = Field(default=None, ge=0, le=1_000_000)
    """monthly only: online orders that month"""
    sales_band: SalesBand | None = None
    """monthly only: annual sales band at that rate (10,000 CNY)"""
    on_behalf: bool = Field(default=False, description="Staff reporting for the newcomer")

    @model_validator(mode="after")
    def _fields_fit_kind(self) -> MilestoneCreate:
        if self.kind != "monthly" and (self.orders_per_month is not None or self.sales_band is not None):
            raise refusal(
                "订单数和销售额档位只属于月度报告", "orders and sales band belong to a monthly report"
            )
        if self.kind != "store_opened" and self.channel is not None:
            raise refusal("销售渠道只属于开店报告", "a channel belongs to a store-opened report")
        return self


class MilestoneRead(Output):
    """A reported milestone."""

    id: int
    """Milestone id"""
    kind: str
    """store_opened, first_sale or monthly"""
    on_date: date
    """When it happened"""
    channel: str | None
    """store_opened: where"""
    orders_per_month: int | None
    """monthly: orders that month"""
    sales_band: str | None
    """monthly: sales band"""
    on_behalf: bool
    """Reported by staff for the newcomer"""


class Baseline(Output):
    """The situation at activation."""

    has_store: bool
    """Had an online store at activation"""
    channels: list[str]
    """Where they sold then"""
    orders_per_month: int
    """Orders a month then"""
    sales_band: str | None
    """Sales band then"""


class BeforeAfter(Output):
    """What changed: days from activation to the first sale, and monthly orders now minus at the start."""

    store_opened_on: date | None
    """When the first store opened"""
    store_channel: str | None
    """Where"""
    first_sale_on: date | None
    """Date of the first online sale"""
    days_to_first_sale: int | None
    """Days from activation to it"""
    latest_orders_per_month: int | None
    """Latest monthly report's orders"""
    latest_sales_band: str | None
    """Latest monthly report's sales band"""
    orders_growth: int | None
    """Latest orders a month minus the baseline's"""


class OutcomeRead(Output):
    """A match's outcome."""

    match_id: int
    """The match"""
    activated_on: date
    """When it became active"""
    pairing_type: str
    """chain, same_trade or other (the two main products' relation)"""
    baseline: Baseline
    """The newcomer's business at activation"""
    after: BeforeAfter
    """What changed since"""
    milestones: list[MilestoneRead]
    """Reported milestones, in date order"""
