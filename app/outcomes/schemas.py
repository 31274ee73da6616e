"""Bodies of a match's outcome: baseline, milestones and the before/after."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from app.profiles.schemas import Channel, SalesBand
from app.schemas import Input, Output

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
