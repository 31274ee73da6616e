"""Rate limits kept in the database, so they hold across worker processes and machines.

Each limit is a sliding-window counter: the attempts of the current fixed window, plus those of the
previous window weighted by how much of it still overlaps the last `window_seconds`. The increment is
one atomic upsert that refuses to pass the bound, so N concurrent attempts never let more than the
limit through. Every hit is written in its own short transaction that commits at once: the count must
survive the 401 or 429 that follows, and other processes must see it before the password is checked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from app.bulk import increment_below
from app.db import utcnow
from app.models import RateLimitCounter


@dataclass(frozen=True, slots=True)
class Limit:
    """At most `max_hits` per `window_seconds` for one key of a scope."""

    scope: str
    max_hits: int
    window_seconds: int


def hit(
    sessions: sessionmaker[Session], limit: Limit, key: str, *, now: datetime | None = None
) -> int | None:
    """Count one attempt; None if it is allowed, else the seconds to wait before the next one."""
    now = now or utcnow()
    position = now.timestamp() / limit.window_seconds
    window = math.floor(position)
    retry_after = max(1, math.ceil((window + 1 - position) * limit.window_seconds))
    key = key[:128]
    table = RateLimitCounter.__table__
    with sessions.begin() as session:
        previous = session.scalar(
            select(RateLimitCounter.count).where(
                RateLimitCounter.scope == limit.scope,
                RateLimitCounter.key == key,
                RateLimitCounter.window == window - 1,
            )
        )
        # The part of the previous window that still lies inside the sliding window counts pro rata.
        carried = math.floor((previous or 0) * (1 - (position - window)))
        bound = limit.max_hits - carried
        if bound <= 0:
            return retry_after
        counted = increment_below(
            session,
            table,  # type: ignore[arg-type]
            {"scope": limit.scope, "key": key, "window": window},
            column="count",
            bound=bound,
            insert_extra={"expires_at": now + timedelta(seconds=2 * limit.window_seconds)},
        )
    return None if counted is not None else retry_after


def release(sessions: sessionmaker[Session], limit: Limit, key: str, *, now: datetime | None = None) -> None:
    """Give back one attempt of the current window (a successful login), so that only failures use up
    the budget: a user who signs in often is never locked out by their own successes."""
    now = now or utcnow()
    window = math.floor(now.timestamp() / limit.window_seconds)
    with sessions.begin() as session:
        session.execute(
            update(RateLimitCounter)
            .where(
                RateLimitCounter.scope == limit.scope,
                RateLimitCounter.key == key[:128],
                RateLimitCounter.window == window,
                RateLimitCounter.count > 0,
            )
            .values(count=RateLimitCounter.count - 1)
        )
