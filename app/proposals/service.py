"""The coordinator's review queue, a mentor's track record, and approving or rejecting proposals."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.access import Caller
from app.access.matches import MatchView, load_reviewable, review_scope, views_of
from app.access.regions import under
from app.db import china_today, utcnow
from app.etags import check_if_match
from app.matches.states import transition
from app.models import Commitment, Match, Mentor, Newcomer, NewcomerProduct
from app.models.matches import VISIBLE_TO_PARTIES, MatchStatus
from app.notifications.service import notify
from app.pagination import Paged, desc, paginate

PAST_MATCHES_SHOWN = 10
QUEUE_ORDER = {
    "-score": [desc(Match.score, float), desc(Match.id)],
    "-created": [desc(Match.id)],
}


@dataclass(frozen=True, slots=True)
class TrackRecord:
    """What a reviewer judges a mentor by: the profile, and past matches (approved or later)."""

    mentor: Mentor
    outcomes: dict[str, int] = field(default_factory=dict)
    past_matches: list[Match] = field(default_factory=list)


def review_queue(
    session: Session,
    caller: Caller,
    *,
    status: MatchStatus,
    region: str | None,
    sort: str,
    cursor: str | None,
    limit: int,
    category: str | None = None,
    min_score: float | None = None,
    max_distance_km: float | None = None,
    run_id: int | None = None,
    newcomer_id: int | None = None,
    overdue_only: bool = False,
) -> Paged[MatchView]:
    """Proposals whose newcomer lies in the caller's jurisdiction, best first (keyset paginated)."""
    stmt = select(Match).where(Match.status == status, review_scope(caller))
    if category:
        # A leaf code, or a group code covering its leaves.
        stmt = stmt.where(
            Match.newcomer_id.in_(
                select(NewcomerProduct.newcomer_id).where(
                    or_(
                        NewcomerProduct.category_code == category,
                        NewcomerProduct.category_code.startswith(f"{category}.", autoescape=True),
                    )
                )
            )
        )
    if min_score is not None:
        stmt = stmt.where(Match.score >= min_score)
    if max_distance_km is not None:
        stmt = stmt.where(Match.distance_km <= max_distance_km)
    if run_id is not None:
        stmt = stmt.where(Match.run_id == run_id)
    if newcomer_id is not None:
        stmt = stmt.where(Match.newcomer_id == newcomer_id)
    if overdue_only:
        stmt = stmt.where(
            Match.id.in_(select(Commitment.match_id).where(Commitment.next_due < china_today()))
        )
    if region:
        in_region = select(Newcomer.id).where(under(Newcomer.region_code, region))
        stmt = stmt.where(Match.newcomer_id.in_(in_region))
    page = paginate(session, stmt, QUEUE_ORDER[sort], cursor, limit)
    return Paged(views_of(session, caller, page.items), page.next_cursor)


def track_records(session: Session, mentors: list[Mentor]) -> dict[int, TrackRecord]:
    """The track records of some mentors, their past matches in one query."""
    records = {m.id: TrackRecord(m) for m in mentors}
    past = session.scalars(
        select(Match)
        .where(Match.mentor_id.in_(records), Match.status.in_(VISIBLE_TO_PARTIES))
        .order_by(Match.id.desc())
    )
    counts: dict[int, Counter[str]] = {mid: Counter() for mid in records}
    for match in past:
        counts[match.mentor_id][match.status] += 1
        if len(records[match.mentor_id].past_matches) < PAST_MATCHES_SHOWN:
            records[match.mentor_id].past_matches.append(match)
    for mid, record in records.items():
        record.outcomes.update(counts[mid])
    return records


def reviewable(session: Session, caller: Caller, match_id: int) -> MatchView:
    """A proposal the caller reviews, else 404."""
    return load_reviewable(session, caller, match_id)


def approve(
    session: Session,
    caller: Caller,
    match_id: int,
    *,
    if_match: str | None,
    commitments: list[dict[str, Any]] | None,
    note: str | None,
) -> MatchView:
    """Approve: takes a mentor seat and the newcomer's slot atomically (409 if either is gone)."""
    view = reviewable(session, caller, match_id)
    check_if_match(view.match.version, if_match)
    match = view.match
    if commitments is not None:
        match.suggested_commitments = commitments
    match.decided_by, match.decided_at, match.reason_note = caller.id, utcnow(), note
    transition(session, match, MatchStatus.APPROVED, actor_id=caller.id, reason=note)
    payload = {"match_id": match.id}
    notify(
        session, view.mentor.account_id, "proposal_approved", {**payload, "counterpart": view.newcomer.name}
    )
    notify(
        session, view.newcomer.account_id, "proposal_approved", {**payload, "counterpart": view.mentor.name}
    )
    return view


def reject(
    session: Session,
    caller: Caller,
    match_id: int,
    *,
    if_match: str | None,
    reason_code: str,
    note: str | None,
) -> MatchView:
    """Reject with a reason; the pair is never proposed again and the decision trains the ranker."""
    view = reviewable(session, caller, match_id)
    check_if_match(view.match.version, if_match)
    match = view.match
    match.decided_by, match.decided_at = caller.id, utcnow()
    match.reason_code, match.reason_note = reason_code, note
    transition(
        session,
        match,
        MatchStatus.REJECTED,
        actor_id=caller.id,
        reason=f"{reason_code}: {note or ''}".strip(),
    )
    return view
