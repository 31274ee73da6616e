"""The mobile notification feed: append-only rows, polled with an id cursor."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.models import Notification

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
    """Queue one item for an account (no-op for profiles without an account, or a repeated dedupe key)."""
    if account_id is None:
        return
    if dedupe_key is None:
        session.add(Notification(account_id=account_id, kind=kind, payload=payload))
        session.flush()
        return
    try:
        with session.begin_nested():
            session.add(
                Notification(account_id=account_id, kind=kind, payload=payload, dedupe_key=dedupe_key)
            )
            session.flush()
    except IntegrityError:
        pass  # already notified for this event


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
