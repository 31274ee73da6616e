"""Delivery of notifications to phones and mailboxes: the outbox and each account's preferences."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, JSONDoc, UTCDateTime, utcnow

CHANNELS = ("sms", "wechat", "email")
OUTBOX_STATUSES = ("pending", "sending", "sent", "dead")


class NotificationOutbox(Base):
    """One message to send on one channel, written in the transaction of the event it tells about."""

    __tablename__ = "notification_outbox"
    __table_args__ = (Index("ix_notification_outbox_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(254))
    params: Mapped[dict[str, str]] = mapped_column(JSONDoc, default=dict)
    # Sent to the provider with every attempt, so a retry after a crash is recognised as the same message.
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    provider_message_id: Mapped[str | None] = mapped_column(String(128))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class NotificationPreference(Base):
    """Which events reach an account, on which channel, and when not to (quiet hours, China time)."""

    __tablename__ = "notification_preferences"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    channel: Mapped[str | None] = mapped_column(String(16))  # None: the feed only
    events: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    quiet_start: Mapped[str | None] = mapped_column(String(5))  # "22:00", China Standard Time
    quiet_end: Mapped[str | None] = mapped_column(String(5))
    wechat_openid: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(254))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
