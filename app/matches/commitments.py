"""Commitments of active matches: check-ins, overdue periods, and the mentor's fulfilment rate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.access import Caller
from app.access.matches import MatchView, load_view, speaks_for
from app.db import china_today, utcnow
from app.errors import Conflict, NotFound
from app.models import CheckIn, Commitment, Match, Mentor, Newcomer
from app.models.matches import CHECK_IN_OUTCOMES, MatchStatus
from app.notifications.service import notify

# Partial delivery counts half: it is better than nothing and worse than keeping the promise.
PARTIAL_WEIGHT = 0.5


def is_overdue(commitment: Commitment, today: date) -> bool:
    """A check-in was due before today and has not come."""
    return commitment.next_due is not None and commitment.next_due < today


@dataclass(frozen=True, slots=True)
class CommitmentState:
    """A commitment and whether its check-in is overdue today."""

    commitment: Commitment
    overdue: bool


def list_for_match(session: Session, caller: Caller, match_id: int) -> list[CommitmentState]:
    """Commitments of a match the caller may see, with their overdue flag."""
    load_view(session, caller, match_id)
    today = china_today()
    rows = session.scalars(select(Commitment).where(Commitment.match_id == match_id).order_by(Commitment.id))
    return [CommitmentState(c, is_overdue(c, today)) for c in rows]


def _commitment_view(session: Session, caller: Caller, commitment_id: int) -> tuple[Commitment, MatchView]:
    commitment = session.get(Commitment, commitment_id)
    if commitment is None:
        raise NotFound()
    return commitment, load_view(session, caller, commitment.match_id)


def period_of(commitment: Commitment, day: date) -> int:
    """The commitment period a China day falls in: periods of cadence_days from the commitment's start."""
    return max(0, (day - china_today(commitment.created_at)).days) // max(1, commitment.cadence_days)


def period_start(commitment: Commitment, period: int) -> date:
    """The first China day of a period. A period's report is due on the first day of the next one:
    `next_due` is that day for the earliest period not yet reported or counted missed."""
    return china_today(commitment.created_at) + timedelta(days=period * max(1, commitment.cadence_days))


def _lapsed(commitment: Commitment, today: date) -> tuple[int, date | None]:
    """(periods whose due day has passed unreported, next_due once they are counted missed)."""
    due, missed = commitment.next_due, 0
    while due is not None and due < today:
        missed += 1
        due += timedelta(days=max(1, commitment.cadence_days))
    return missed, due


def _reported_period(session: Session, commitment: Commitment, today: date, due: date | None) -> int:
    """The period a report made today is for: today's, except on a due day.

    The first day of a period is the due day of the one before (the parties are reminded to report
    that day): while that period is unreported, or was reported today, a report is for it.
    """
    period = period_of(commitment, today)
    if period == 0 or period_start(commitment, period) != today:
        return period
    if due == today:
        return period - 1
    reported_today = session.scalars(
        select(CheckIn.created_at).where(CheckIn.commitment_id == commitment.id, CheckIn.period == period - 1)
    )
    return period - 1 if any(china_today(at) == today for at in reported_today) else period


@dataclass(frozen=True, slots=True)
class Reported:
    """A stored check-in and whether it replaced the party's earlier report for the period."""

    entry: CheckIn
    replaced: bool


COUNTERS = {o: getattr(Commitment, f"{o}_count") for o in CHECK_IN_OUTCOMES}


def check_in(
    session: Session,
    caller: Caller,
    commitment_id: int,
    *,
    outcome: str,
    note: str,
    evidence_url: str | None,
    on_behalf_of: str | None = None,
    match_id: int | None = None,
) -> Reported:
    """A party reports (or staff for a party without an account); a later report in a period replaces it.

    `match_id`, when the request names the match too (the console's form on a match page), must be the
    commitment's own: a commitment of another match is not found there (404), never reported on.
    """
    commitment, view = _commitment_view(session, caller, commitment_id)
    if match_id is not None and commitment.match_id != match_id:
        raise NotFound()
    party = speaks_for(view, on_behalf_of)
    if view.match.status != MatchStatus.ACTIVE:
        raise Conflict(code="match_not_active")
    # The commitment row lock serialises reports on it (SQLite: the write lock), so the
    # select-then-write below never races; the unique index is the backstop.
    locked = session.scalar(
        select(Commitment)
        .where(Commitment.id == commitment.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert locked is not None
    today = china_today()
    # Periods that lapsed before this report are missed, as the daily sweep would have counted them.
    missed, due = _lapsed(locked, today)
    period = _reported_period(session, locked, today, due)
    entry = session.scalar(
        select(CheckIn).where(
            CheckIn.commitment_id == locked.id, CheckIn.party == party, CheckIn.period == period
        )
    )
    counts = {COUNTERS[outcome]: COUNTERS[outcome] + 1}
    if entry is None:
        entry = CheckIn(commitment_id=locked.id, party=party, period=period)
        session.add(entry)
    else:
        # Replace: the earlier report of this party and period no longer counts.
        previous = COUNTERS[entry.outcome]
        counts = {} if entry.outcome == outcome else {previous: previous - 1, **counts}
    replaced = entry.id is not None
    entry.author_id = caller.id
    entry.outcome = outcome
    entry.note = note
    entry.evidence_url = evidence_url
    entry.created_at = utcnow()
    if missed:
        missed_now = counts.get(Commitment.missed_count, Commitment.missed_count)
        counts[Commitment.missed_count] = missed_now + missed
    # Due next: the report of the period after the one reported, unless a later one is due already.
    next_due = max(d for d in (due, period_start(locked, period + 2)) if d is not None)
    session.execute(
        update(Commitment)
        .where(Commitment.id == locked.id)
        .values({**counts, Commitment.next_due: next_due})
        .execution_options(synchronize_session=False)
    )
    session.flush()
    refresh_fulfilment(session, [view.mentor.id])
    session.refresh(locked)
    return Reported(entry, replaced)


def refresh_fulfilment(session: Session, mentor_ids: list[int]) -> None:
    """Recompute (done + ½ partial) / all reported or missed periods, over every match of each mentor."""
    if not mentor_ids:
        return
    stmt = (
        select(
            Match.mentor_id,
            func.sum(Commitment.done_count),
            func.sum(Commitment.partial_count),
            func.sum(Commitment.missed_count),
        )
        .join(Commitment, Commitment.match_id == Match.id)
        .where(Match.mentor_id.in_(mentor_ids))
        .group_by(Match.mentor_id)
    )
    for mentor_id, done, partial, missed in session.execute(stmt):
        total = (done or 0) + (partial or 0) + (missed or 0)
        if total:
            rate = ((done or 0) + PARTIAL_WEIGHT * (partial or 0)) / total
            session.execute(
                update(Mentor)
                .where(Mentor.id == mentor_id)
                .values(fulfilment_rate=round(rate, 4))
                .execution_options(synchronize_session=False)
            )


def sweep_overdue(session: Session, today: date | None = None) -> dict[str, int]:
    """Count every lapsed period as missed, notify both parties, and remind of check-ins due today."""
    today = today or china_today()
    rows = session.execute(
        select(Commitment, Match.mentor_id, Mentor.account_id, Newcomer.account_id)
        .join(Match, Match.id == Commitment.match_id)
        .join(Mentor, Mentor.id == Match.mentor_id)
        .join(Newcomer, Newcomer.id == Match.newcomer_id)
        .where(Match.status == MatchStatus.ACTIVE, Commitment.next_due <= today)
    ).all()
    touched: set[int] = set()
    overdue = due = 0
    for commitment, mentor_id, mentor_account, newcomer_account in rows:
        parties = (mentor_account, newcomer_account)
        if commitment.next_due == today:
            due += 1
            for account in parties:
                notify(
                    session,
                    account,
                    "check_in_due",
                    {"commitment_id": commitment.id, "due": today.isoformat()},
                    dedupe_key=f"due:{commitment.id}:{today.isoformat()}:{account}",
                )
            continue
        lapsed_from = commitment.next_due
        missed, commitment.next_due = _lapsed(commitment, today)
        commitment.missed_count += missed
        overdue += 1
        touched.add(mentor_id)
        for account in parties:
            notify(
                session,
                account,
                "check_in_overdue",
                {"commitment_id": commitment.id, "was_due": lapsed_from.isoformat()},
                dedupe_key=f"overdue:{commitment.id}:{lapsed_from.isoformat()}:{account}",
            )
    session.flush()
    refresh_fulfilment(session, sorted(touched))
    return {"overdue": overdue, "due_today": due}


def check_ins_for_match(session: Session, caller: Caller, match_id: int) -> list[CheckIn]:
    """Every check-in of a match the caller may see, oldest first."""
    load_view(session, caller, match_id)
    return list(
        session.scalars(
            select(CheckIn)
            .join(Commitment, Commitment.id == CheckIn.commitment_id)
            .where(Commitment.match_id == match_id)
            .order_by(CheckIn.id)
        )
    )
