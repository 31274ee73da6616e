"""The notification feed (append-only rows, polled with an id cursor), and the outbox it feeds."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db import utcnow
from app.errors import Unprocessable
from app.models import Account, Notification, NotificationPreference
from app.notifications.delivery import queue_delivery

KINDS = (
    "proposal_approved",
    "match_active",
    "match_declined",
    "match_ended",
    "check_in_due",
    "check_in_overdue",
)


def notify(
    session: Session,
    account_id: int | None,
    kind: str,
    payload: dict[str, Any],
    *,
    dedupe_key: str | None = None,
) -> None:
    """Add a feed item and its outbox message (no-op without an account, or for a repeated dedupe key)."""
    if account_id is None:
        return
    notification = Notification(account_id=account_id, kind=kind, payload=payload, dedupe_key=dedupe_key)
    if dedupe_key is None:
        session.add(notification)
        session.flush()
    else:
        try:
            with session.begin_nested():
                session.add(notification)
                session.flush()
        except IntegrityError:
            return  # already notified for this event
    account = session.get(Account, account_id)
    if account is not None:
        # Same transaction as the event: the message goes out exactly when the event commits.
        queue_delivery(session, notification, account)


def feed(session: Session, account_id: int, *, after: int | None, limit: int) -> list[Notification]:
    """Items newer than the cursor, oldest first, so a phone can poll with the last id it saw."""
    stmt = (
        select(Notification)
        .where(Notification.account_id == account_id)
        .order_by(Notification.id)
        .limit(limit)
    )
    if after is not None:
        stmt = stmt.where(Notification.id > after)
    return list(session.scalars(stmt))


def get_preferences(session: Session, account_id: int) -> NotificationPreference | None:
    """An account's stored delivery preferences, if it ever set them."""
    return session.get(NotificationPreference, account_id)


def set_preferences(session: Session, *, account: Account, values: dict[str, Any]) -> NotificationPreference:
    """Replace an account's delivery preferences; SMS needs a phone on the account."""
    if values.get("channel") == "sms" and not account.phone:
        raise Unprocessable(
            code="no_phone_for_sms",
            detail=("账号没有手机号，无法短信通知", "this account has no phone for SMS"),
        )
    pref = session.get(NotificationPreference, account.id) or NotificationPreference(account_id=account.id)
    for name in ("channel", "events", "quiet_start", "quiet_end", "wechat_openid", "email"):
        setattr(pref, name, values.get(name))
    pref.events = list(values.get("events") or [])
    pref.updated_at = utcnow()
    session.add(pref)
    session.flush()
    return pref
