"""Honours mentors earn by the documented rules, confirmed by a coordinator, verifiable by a code."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, JSONDoc, UTCDateTime, utcnow

HONOUR_STATUSES = ("proposed", "confirmed", "revoked")


class Honour(Base):
    """One honour of one mentor for one period, as the rule version of the day awarded it."""

    __tablename__ = "honours"
    __table_args__ = (
        CheckConstraint("status IN ('proposed','confirmed','revoked')", name="status"),
        # The backstop of evaluate's overlap rule: one honour per mentor, rule, jurisdiction and period.
        Index(
            "uq_honours_mentor_rule_jurisdiction_period",
            "mentor_id",
            "rule_code",
            "jurisdiction_code",
            "period_end",
            unique=True,
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mentor_id: Mapped[int] = mapped_column(ForeignKey("mentors.id", ondelete="CASCADE"), index=True)
    rule_code: Mapped[str] = mapped_column(String(32))
    rules_version: Mapped[str] = mapped_column(String(16))
    # The jurisdiction the honour is awarded in (the confirming coordinator's, or the mentor's county).
    jurisdiction_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    status: Mapped[str] = mapped_column(String(12), default="proposed")
    verification_code: Mapped[str | None] = mapped_column(String(24), unique=True)
    confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    confirmed_on: Mapped[date | None] = mapped_column(Date)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
