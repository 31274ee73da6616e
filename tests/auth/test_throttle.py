"""The rate limits' sliding window: never more than the limit in any stretch of the window's length."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from app.auth import throttle

LIMIT = throttle.Limit("login", max_hits=5, window_seconds=900)
# A window boundary of the old fixed windows (and of the slots): 900 divides this epoch second.
BOUNDARY = datetime.fromtimestamp(1_800_000_000 - 1_800_000_000 % 900, UTC)


def _at(seconds: float) -> datetime:
    return BOUNDARY + timedelta(seconds=seconds)


def test_five_failures_just_before_a_boundary_block_the_sixth_just_after(session_factory):
    for t in (-6, -5, -4, -3, -2):
        assert throttle.hit(session_factory, LIMIT, "13700003333", now=_at(t)) is None
    retry = throttle.hit(session_factory, LIMIT, "13700003333", now=_at(1))
    # The first of the five leaves the window 900 s after it was made, or at most one slot later.
    assert retry is not None and 900 - 7 <= retry <= 900 - 7 + 900 / throttle.SLOTS
    assert throttle.hit(session_factory, LIMIT, "13700003333", now=_at(1 + retry)) is None


@pytest.mark.parametrize("seed", range(4))
def test_no_stretch_of_the_window_ever_sees_more_than_the_limit(session_factory, seed):
    rng = random.Random(seed)
    start = rng.uniform(-900, 900)
    times = sorted(start + rng.uniform(0, 3 * 900) for _ in range(60))
    allowed = [t for t in times if throttle.hit(session_factory, LIMIT, f"user-{seed}", now=_at(t)) is None]
    assert allowed, "the limit let nothing through"
    for i, t in enumerate(allowed):
        within = [u for u in allowed[: i + 1] if u > t - LIMIT.window_seconds]
        assert len(within) <= LIMIT.max_hits, (t, within)


def test_a_refusal_says_when_the_next_attempt_is_allowed(session_factory):
    for t in range(5):
        assert throttle.hit(session_factory, LIMIT, "k", now=_at(100 + t * 60)) is None
    retry = throttle.hit(session_factory, LIMIT, "k", now=_at(400))
    assert retry is not None
    assert throttle.hit(session_factory, LIMIT, "k", now=_at(400 + retry - 61)) is not None
    assert throttle.hit(session_factory, LIMIT, "k", now=_at(400 + retry)) is None


def test_a_success_gives_its_attempt_back(session_factory):
    for t in range(4):
        assert throttle.hit(session_factory, LIMIT, "k", now=_at(t)) is None
    assert throttle.hit(session_factory, LIMIT, "k", now=_at(10)) is None
    throttle.release(session_factory, LIMIT, "k", now=_at(10))
    assert throttle.hit(session_factory, LIMIT, "k", now=_at(11)) is None
    assert throttle.hit(session_factory, LIMIT, "k", now=_at(12)) is not None


def test_a_one_second_window_keeps_slot_numbers_32_bit(session_factory):
    limit = throttle.Limit("auth_client", max_hits=2, window_seconds=1)
    now = datetime(2037, 12, 31, tzinfo=UTC)
    assert throttle.hit(session_factory, limit, "k", now=now) is None
    assert throttle.hit(session_factory, limit, "k", now=now) is None
    assert throttle.hit(session_factory, limit, "k", now=now) in (1, 2)
    assert throttle.hit(session_factory, limit, "k", now=now + timedelta(seconds=2)) is None
