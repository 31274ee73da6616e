"""Delivering the outbox: one job per message, retried with back-off, dead letters after N attempts.

The outbox row is written by `notify` in the transaction of the event, and its job with it, so an
event that rolls back sends nothing. Each attempt first commits `sending` (and the attempt count),
then calls the provider, then commits `sent`. A worker that dies between the call and the mark
leaves `sending`: the retry resends with the same idempotency key on channels whose provider drops
duplicates (SMS `out_id`); on the others (WeChat, e-mail) it does not resend at all, and says so, so
nothing ever reaches a person twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, time, timedelta
from typing import Any, Final

from sqlalchemy.orm import Session, sessionmaker

from app.access import MOBILE_ROLES
from app.config import Settings
from app.db import CHINA_TZ, utcnow
from app.jobs.queue import enqueue, reason_of
from app.jobs.worker import JobContext
from app.models import Account, Job, Notification, NotificationOutbox, NotificationPreference
from app.notifications.channels import Channel, Message, Rejected, Retryable, channels_from_settings

JOB_KIND: Final = "notification_delivery"
# The job may run more often than the outbox's own limit (JIEDUAN_NOTIFY_MAX_ATTEMPTS, at most 20).
_JOB_MAX_ATTEMPTS: Final = 21
# Providers that recognise a resend by our idempotency key; others are never resent after a crash.
_DEDUPLICATING: Final = frozenset({"sms"})


def quiet_until(now: datetime, start: str | None, end: str | None) -> datetime | None:
    """When quiet hours (China Standard Time, "HH:MM") end, if `now` lies inside them; else None."""
    if not start or not end or start == end:
        return None
    local = now.astimezone(CHINA_TZ)
    begin, finish = time.fromisoformat(start), time.fromisoformat(end)
    t = local.time()
    inside = begin <= t < finish if begin < finish else (t >= begin or t < finish)
    if not inside:
        return None
    ends = local.replace(hour=finish.hour, minute=finish.minute, second=0, microsecond=0)
    if ends <= local:
        ends += timedelta(days=1)
    return ends


def _route(account: Account, pref: NotificationPreference | None) -> tuple[str, str] | None:
    """The channel and address for an account: its preference, else SMS to a mobile user's phone."""
    if pref is None:
        return ("sms", account.phone) if account.role in MOBILE_ROLES and account.phone else None
    address = {"sms": account.phone, "wechat": pref.wechat_openid, "email": pref.email}.get(
        pref.channel or ""
    )
    return (pref.channel, address) if pref.channel and address else None


def _params(payload: Mapping[str, Any]) -> dict[str, str]:
    # Template variables are strings at every provider.
    return {str(k): str(v) for k, v in payload.items()}


def queue_delivery(
    session: Session, notification: Notification, account: Account
) -> NotificationOutbox | None:
    """Write the outbox row and its job for one notification, in the caller's transaction (or nothing)."""
    pref = session.get(NotificationPreference, account.id)
    if pref is not None and pref.events and notification.kind not in pref.events:
        return None
    route = _route(account, pref)
    if route is None:
        return None
    now = utcnow()
    not_before = (quiet_until(now, pref.quiet_start, pref.quiet_end) if pref else None) or now
    row = NotificationOutbox(
        notification_id=notification.id,
        account_id=account.id,
        channel=route[0],
        kind=notification.kind,
        recipient=route[1],
        params=_params(notification.payload),
        idempotency_key=f"jd-{uuid.uuid4().hex}",
        status="pending",
        attempts=0,
        not_before=not_before,
    )
    session.add(row)
    session.flush()
    enqueue(session, kind=JOB_KIND, ref_id=row.id, max_attempts=_JOB_MAX_ATTEMPTS, run_after=not_before)
    return row


def deliver(
    sessions: sessionmaker[Session],
    outbox_id: int,
    *,
    channels: Mapping[str, Channel],
    max_attempts: int,
    fence: Callable[[Session], None] | None = None,
) -> str:
    """One attempt at one message; returns its status. Raises Retryable when it should be tried again."""
    with sessions.begin() as session:
        if fence is not None:
            fence(session)
        row = session.get(NotificationOutbox, outbox_id, with_for_update=True)
        if row is None or row.status in ("sent", "dead", "skipped"):
            return row.status if row else "missing"
        channel = channels.get(row.channel)
        if channel is None:
            row.status, row.last_error = "skipped", f"channel {row.channel} is off (no credentials set)"
            return row.status
        if row.status == "sending" and row.channel not in _DEDUPLICATING:
            row.status = "dead"
            row.last_error = "a worker stopped while sending; not resent, so that nobody gets it twice"
            return row.status
        row.status, row.attempts = "sending", row.attempts + 1
        message = Message(row.recipient, row.kind, dict(row.params), row.idempotency_key)
        attempts = row.attempts
    try:
        provider_id = channel.send(message)
    except Rejected as exc:
        return _mark(sessions, outbox_id, status="dead", error=str(exc))
    except Retryable as exc:
        if attempts >= max_attempts:
            return _mark(
                sessions, outbox_id, status="dead", error=f"gave up after {attempts} attempts: {exc}"
            )
        _mark(sessions, outbox_id, status="pending", error=str(exc))
        raise
    return _mark(sessions, outbox_id, status="sent", provider_message_id=provider_id)


def _mark(
    sessions: sessionmaker[Session],
    outbox_id: int,
    *,
    status: str,
    error: str | None = None,
    provider_message_id: str | None = None,
) -> str:
    with sessions.begin() as session:
        row = session.get(NotificationOutbox, outbox_id)
        if row is not None:
            row.status = status
            row.last_error = error[:2000] if error else row.last_error
            if status == "sent":
                row.provider_message_id, row.sent_at = provider_message_id, utcnow()
    return status


_channel_cache: dict[int, tuple[Settings, dict[str, Channel]]] = {}


def _channels_for(settings: Settings) -> dict[str, Channel]:
    # One set of HTTP clients per settings object (connection reuse), kept with the settings it came from.
    cached = _channel_cache.get(id(settings))
    if cached is None or cached[0] is not settings:
        cached = (settings, channels_from_settings(settings))
        _channel_cache[id(settings)] = cached
    return cached[1]


def run_delivery_job(ctx: JobContext) -> None:
    """The job (kind "notification_delivery"): one attempt; a Retryable raise makes the queue back off."""
    deliver(
        ctx.sessions,
        ctx.ref_id,
        channels=_channels_for(ctx.settings),
        max_attempts=ctx.settings.notify_max_attempts,
        fence=ctx.hold_lease,
    )


def delivery_failed(session: Session, job: Job) -> None:
    """The job failed for good (an unexpected error): the message goes to the dead letters with the reason."""
    row = session.get(NotificationOutbox, job.ref_id)
    if row is not None and row.status not in ("sent", "dead", "skipped"):
        row.status, row.last_error = "dead", reason_of(job.last_error)
