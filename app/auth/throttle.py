"""Rate limits kept in the database, so they hold across worker processes and machines.

Each limit is a sliding window counted in slots (SLOTS to a window): the attempts of the current slot
and of the slots of the last `window_seconds` before it. The increment is one atomic upsert that
refuses to pass the bound, so N concurrent attempts never let more than the limit through. Every hit
is written in its own short transaction that commits at once: the count must survive the 401 or 429
that follows, and other processes must see it before the password is checked.
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


# A window is counted in slots of window_seconds / SLOTS. An attempt is weighed against the current
# slot and the SLOTS before it, which hold every attempt of the last window_seconds (and at most one
# slot of older ones): no stretch of window_seconds ever sees more than max_hits, at the price of a
# block that may last up to one slot longer. A pro-rata estimate of the previous window let a sixth
# attempt through just after a window's boundary.
SLOTS = 15


def _slot_seconds(limit: Limit) -> float:
    # At least a second: a slot number stays below 2**31 (the column is 32-bit) until 2038.
    return limit.window_seconds / min(SLOTS, max(1, limit.window_seconds))


def hit(
    sessions: sessionmaker[Session], limit: Limit, key: str, *, now: datetime | None = None
) -> int | None:
    """Count one attempt; None if it is allowed, else the seconds to wait before the next one."""
    now = now or utcnow()
    slot_seconds = _slot_seconds(limit)
    slots = round(limit.window_seconds / slot_seconds)
    slot = math.floor(now.timestamp() / slot_seconds)
    key = key[:128]
    table = RateLimitCounter.__table__
    with sessions.begin() as session:
        counts = dict(
            session.execute(
                select(RateLimitCounter.window, RateLimitCounter.count).where(
                    RateLimitCounter.scope == limit.scope,
                    RateLimitCounter.key == key,
                    RateLimitCounter.window.between(slot - slots, slot),
                    RateLimitCounter.count > 0,
                )
            ).all()
        )
        bound = limit.max_hits - sum(n for s, n in counts.items() if s < slot)
        if bound > 0:
            counted = increment_below(
                session,
                table,  # type: ignore[arg-type]
                {"scope": limit.scope, "key": key, "window": slot},
                column="count",
                bound=bound,
                insert_extra={"expires_at": now + timedelta(seconds=2 * limit.window_seconds)},
            )
            if counted is not None:
                return None
            # Refused: the current slot reached the bound (perhaps through a concurrent attempt).
            counts[slot] = max(counts.get(slot, 0), bound)
    return _retry_after(counts, limit.max_hits, slots, slot_seconds, now.timestamp())


def _retry_after(counts: dict[int, int], max_hits: int, slots: int, slot_seconds: float, now: float) -> int:
    """Seconds until enough of the oldest slots have left the window for one more attempt."""
    excess = sum(counts.values()) - max_hits + 1
    for s in sorted(counts):
        excess -= counts[s]
        if excess <= 0:
            # Slot s stops counting once the current slot is s + slots + 1.
            return max(1, math.ceil((s + slots + 1) * slot_seconds - now))
    return 1


def release(sessions: sessionmaker[Session], limit: Limit, key: str, *, now: datetime | None = None) -> None:
    """Give back one attempt of the current slot (a successful login), so that only failures use up
    the budget: a user who signs in often is never locked out by their own successes."""
    now = now or utcnow()
    window = math.floor(now.timestamp() / _slot_seconds(limit))
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
