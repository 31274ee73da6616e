"""Ratings the two parties give a match once it has ended."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow

RATING_PARTIES = ("mentor", "newcomer")
RATING_REASONS = (
    "useful_knowhow",
    "responsive",
    "resources_delivered",
    "good_partner",
    "poor_communication",
    "promises_not_kept",
    "product_mismatch",
    "other",
)


class MatchRating(Base):
    """One party's rating of an ended match (1-5), a reason code and free text only staff read."""

    __tablename__ = "match_ratings"
    __table_args__ = (
        UniqueConstraint("match_id", "party", name="uq_match_ratings_match_party"),
        CheckConstraint("score >= 1 AND score <= 5", name="score_range"),
        CheckConstraint("party IN ('mentor','newcomer')", name="party"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id", ondelete="CASCADE"), index=True)
    # Denormalised so per-mentor report aggregates need no join back through matches.
    mentor_id: Mapped[int] = mapped_column(ForeignKey("mentors.id"), index=True)
    party: Mapped[str] = mapped_column(String(8))
    author_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    score: Mapped[int] = mapped_column(Integer)
    reason_code: Mapped[str] = mapped_column(String(32))
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
