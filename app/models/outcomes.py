"""What happened to the newcomer's business: a baseline at activation, then reported milestones."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, JSONDoc, UTCDateTime, utcnow

MILESTONE_KINDS = ("store_opened", "first_sale", "monthly")
# same_trade: the two main products share a category group; chain: one link up or down the chain.
PAIRING_TYPES = ("same_trade", "chain", "other")
# How an active match can end (the lifecycle's only moves out of active).
ENDINGS = ("completed", "cancelled")


class MatchOutcome(Base):
    """One row per match that became active: the baseline, and the milestones folded in as they come."""

    __tablename__ = "match_outcomes"
    __table_args__ = (
        CheckConstraint("pairing_type IN ('same_trade','chain','other')", name="pairing_type"),
        CheckConstraint("ended_as IS NULL OR ended_as IN ('completed','cancelled')", name="ended_as"),
        # A jurisdiction's reports filter on a code prefix (LIKE '53%'): pattern ops make it an index
        # range on PostgreSQL whatever the database collation.
        Index(
            "ix_match_outcomes_newcomer_county_code",
            "newcomer_county_code",
            "activated_on",
            postgresql_ops={"newcomer_county_code": "varchar_pattern_ops"},
        ),
        # The fulfilment report walks the outcomes in match order beside the commitments: with the
        # columns it groups and filters by in the index, an index-only scan on PostgreSQL.
        Index(
            "ix_match_outcomes_match_id_grouping",
            "match_id",
            postgresql_include=["activated_on", "newcomer_county_code", "mentor_id"],
        ),
        Index(
            "ix_match_outcomes_mentor_county_code",
            "mentor_county_code",
            "activated_on",
            postgresql_ops={"mentor_county_code": "varchar_pattern_ops"},
        ),
    )

    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id", ondelete="CASCADE"), primary_key=True)
    activated_on: Mapped[date] = mapped_column(Date, index=True)
    # Who and where, copied from the match as it became active (a match's parties never change), and how
    # it ended (set by the transition function; NULL while active). Reports aggregate this one table and
    # never join back through matches, the costly part of every report over a year of pairs.
    newcomer_id: Mapped[int] = mapped_column(ForeignKey("newcomers.id"))
    mentor_id: Mapped[int] = mapped_column(ForeignKey("mentors.id"))
    newcomer_county_code: Mapped[str] = mapped_column(String(6))
    mentor_county_code: Mapped[str] = mapped_column(String(6))
    ended_as: Mapped[str | None] = mapped_column(String(16))
    pairing_type: Mapped[str] = mapped_column(String(16), default="other")
    baseline_has_store: Mapped[bool] = mapped_column(Boolean, default=False)
    baseline_channels: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    baseline_orders_per_month: Mapped[int] = mapped_column(Integer, default=0)
    baseline_sales_band: Mapped[str | None] = mapped_column(String(16))
    # Folded in from the milestones (the earliest report wins for dates, the latest for orders).
    store_opened_on: Mapped[date | None] = mapped_column(Date)
    store_channel: Mapped[str | None] = mapped_column(String(16))
    first_sale_on: Mapped[date | None] = mapped_column(Date)
    latest_orders_per_month: Mapped[int | None] = mapped_column(Integer)
    latest_sales_band: Mapped[str | None] = mapped_column(String(16))
    latest_reported_on: Mapped[date | None] = mapped_column(Date)
    # Derived before/after, stored by app.outcomes.service.fold_milestones so reports aggregate plain columns.
    days_to_first_sale: Mapped[int | None] = mapped_column(Integer)
    orders_growth: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class OutcomeReport(Base):
    """One milestone as reported by the newcomer, or by staff on their behalf (the audit trail)."""

    __tablename__ = "outcome_reports"
    __table_args__ = (
        CheckConstraint("kind IN ('store_opened','first_sale','monthly')", name="kind"),
        CheckConstraint("orders_per_month IS NULL OR orders_per_month >= 0", name="orders_non_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    match_id: Mapped[int] = mapped_column(
        ForeignKey("match_outcomes.match_id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    on_date: Mapped[date] = mapped_column(Date)
    channel: Mapped[str | None] = mapped_column(String(16))
    orders_per_month: Mapped[int | None] = mapped_column(Integer)
    sales_band: Mapped[str | None] = mapped_column(String(16))
    reported_by: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    on_behalf: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
