"""Mentor and newcomer profiles, with their product categories as join rows for filtering."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from app.db import Base, JSONDoc, UTCDateTime, utcnow


class ProfileColumns:
    """Columns both kinds of profile share."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    # The most precise division known (county, township or village); county_code is its first 6 digits.
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    county_code: Mapped[str] = mapped_column(String(6), index=True)
    phone: Mapped[str | None] = mapped_column(String(11))
    channels: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    channels_mask: Mapped[int] = mapped_column(Integer, default=0)
    languages: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    story: Mapped[str] = mapped_column(Text, default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    account_id: Mapped[int | None]

    @property
    def has_account(self) -> bool:
        """The seller keeps this profile through their own account."""
        return self.account_id is not None

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:  # noqa: N805
        # Optimistic locking: the version is the ETag and every UPDATE checks it.
        return {"version_id_col": cls.__table__.c.version}


class Mentor(ProfileColumns, Base):
    """An exemplary seller: household, cooperative or enterprise."""

    __tablename__ = "mentors"
    __table_args__ = (
        UniqueConstraint("source_township", "external_id", name="uq_mentors_source_external"),
        CheckConstraint("capacity >= 0 AND capacity <= 20", name="capacity_range"),
        CheckConstraint("capacity_used >= 0 AND capacity_used <= capacity", name="capacity_not_exceeded"),
        CheckConstraint("kind IN ('household','cooperative','enterprise')", name="kind"),
        # A jurisdiction's active profiles (Caller.scope is a range of region codes): migration 0011.
        Index("ix_mentors_active_region", "is_active", "region_code"),
    )

    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    contact_name: Mapped[str | None] = mapped_column(String(64))
    years_selling: Mapped[int | None] = mapped_column(Integer)
    sales_band: Mapped[str | None] = mapped_column(String(16))
    sales_min: Mapped[float | None] = mapped_column(Float)
    sales_max: Mapped[float | None] = mapped_column(Float)
    orders_per_month: Mapped[int | None] = mapped_column(Integer)
    employees: Mapped[int | None] = mapped_column(Integer)
    # [{"type": "logistics", "description": "..."}]
    resources_offered: Mapped[list[dict[str, str]]] = mapped_column(JSONDoc, default=list)
    resources_mask: Mapped[int] = mapped_column(Integer, default=0)
    capacity: Mapped[int] = mapped_column(Integer, default=3)
    # Seats held by approved or active matches; changed only by the match workflow, atomically.
    capacity_used: Mapped[int] = mapped_column(Integer, default=0)
    honours: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    fulfilment_rate: Mapped[float | None] = mapped_column(Float)
    # Roster import keys (template: township + external id, else credit code, else phone).
    credit_code: Mapped[str | None] = mapped_column(String(18), unique=True)
    external_id: Mapped[str | None] = mapped_column(String(64))
    source_township: Mapped[str | None] = mapped_column(String(9))
    import_hash: Mapped[str | None] = mapped_column(String(64))

    products: Mapped[list[MentorProduct]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="MentorProduct.position"
    )

    @property
    def capacity_left(self) -> int:
        """Seats not held by an approved or active match."""
        return self.capacity - self.capacity_used


class Newcomer(ProfileColumns, Base):
    """A farmer or family starting to sell online."""

    __tablename__ = "newcomers"
    __table_args__ = (
        CheckConstraint("internet IN ('none','mobile','broadband')", name="internet"),
        Index("ix_newcomers_active_region", "is_active", "region_code"),
    )

    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), unique=True)
    experience_years: Mapped[int] = mapped_column(Integer, default=0)
    resources_needed: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    resources_mask: Mapped[int] = mapped_column(Integer, default=0)
    internet: Mapped[str] = mapped_column(String(16), default="mobile")
    courier_km: Mapped[float | None] = mapped_column(Float)
    goals: Mapped[str] = mapped_column(Text, default="")

    products: Mapped[list[NewcomerProduct]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="NewcomerProduct.position"
    )


class MentorProduct(Base):
    """A mentor's product category (ordered: the first is the main product)."""

    __tablename__ = "mentor_products"

    mentor_id: Mapped[int] = mapped_column(ForeignKey("mentors.id", ondelete="CASCADE"), primary_key=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("categories.code"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class NewcomerProduct(Base):
    """A newcomer's produced or planned product category."""

    __tablename__ = "newcomer_products"

    newcomer_id: Mapped[int] = mapped_column(ForeignKey("newcomers.id", ondelete="CASCADE"), primary_key=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("categories.code"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
