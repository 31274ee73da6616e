"""Accounts, refresh tokens, failed-login records and the attempt counters behind rate limits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from app.access.roles import ALL_ROLES
from app.db import Base, UTCDateTime, utcnow


class Account(Base):
    """A person who can log in; staff carry a jurisdiction region code."""

    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint("role IN (" + ",".join(f"'{r}'" for r in ALL_ROLES) + ")", name="role"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    display_name: Mapped[str] = mapped_column(String(128))
    phone: Mapped[str | None] = mapped_column(String(11))
    jurisdiction_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Named by every access token; moved on by a deactivation or a password reset, which ends them all.
    token_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class RefreshToken(Base):
    """One issued refresh token; only its hash is stored. A family shares one login."""

    __tablename__ = "refresh_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    family_id: Mapped[str] = mapped_column(String(36), index=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LoginFailure(Base):
    """A failed password attempt, counted for throttling."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_username_at", "username", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RateLimitCounter(Base):
    """Attempts counted for one key (a username, a client address) in one slot of a limit's window.

    One row per (scope, key, window); a single upsert increments it, so every worker process shares
    the count and two concurrent attempts can never both take the last slot.
    """

    __tablename__ = "rate_limit_counters"
    __table_args__ = (PrimaryKeyConstraint("scope", "key", "window"),)

    scope: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(128))
    # Slot number: seconds since the epoch divided by the slot's length (app.auth.throttle).
    window: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer, default=0)
    # After this the row weighs in no decision any more (retention deletes it).
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
