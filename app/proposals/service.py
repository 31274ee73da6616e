"""The coordinator's review queue, a mentor's track record, and approving or rejecting proposals."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, or_, select
from sqlalchemy.orm import Session

from app.access import Caller
from app.access.matches import MatchView, load_reviewable, review_scope, view_of, views_of
from app.access.profiles import MENTORS, NEWCOMERS
from app.access.regions import under_indexed
from app.db import china_today, utcnow
from app.etags import check_if_match
from app.matches import reasons
from app.matches.states import transition
from app.models import Commitment, Match, Mentor, Newcomer, NewcomerProduct
from app.models.matches import VISIBLE_TO_PARTIES, MatchStatus
from app.notifications.service import notify
from app.pagination import Paged, desc, paginate
from app.plain_reads import PlainSelect, id_in
from app.profiles.service import products_column, select_columns
from app.proposals.schemas import PARTY_FIELDS, TRACK_RECORD_FIELDS, PastMatch

PAST_MATCHES_SHOWN = 10
QUEUE_ORDER = {
    "-score": [desc(Match.score, float), desc(Match.id)],
    "-created": [desc(Match.id)],
}


@dataclass(frozen=True, slots=True)
class TrackRecord:
    """What a reviewer judges a mentor by: the profile, and past matches (approved or later).

    The profile and the matches are ORM objects, or plain rows of the same names (the API's page).
    """

    mentor: Any
    outcomes: dict[str, int] = field(default_factory=dict)
    past_matches: list[Any] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ProposalFilter:
    """Which matches a queue or a list shows: those in `status`; every other field narrows them."""

    status: MatchStatus = MatchStatus.PROPOSED
    region: str | None = None
    category: str | None = None
    min_score: float | None = None
    max_distance_km: float | None = None
    run_id: int | None = None
    newcomer_id: int | None = None
    overdue_only: bool = False


def _queue_where(stmt: Select[Any], caller: Caller, f: ProposalFilter) -> Select[Any]:
    """The queue's rule: matches in `f.status` whose newcomer lies in the caller's jurisdiction, filtered."""
    stmt = stmt.where(Match.status == f.status, review_scope(caller))
    if f.category:
        # A leaf code, or a group code covering its leaves.
        stmt = stmt.where(
            Match.newcomer_id.in_(
                select(NewcomerProduct.newcomer_id).where(
                    or_(
                        NewcomerProduct.category_code == f.category,
                        NewcomerProduct.category_code.startswith(f"{f.category}.", autoescape=True),
                    )
                )
            )
        )
    if f.min_score is not None:
        stmt = stmt.where(Match.score >= f.min_score)
    if f.max_distance_km is not None:
        stmt = stmt.where(Match.distance_km <= f.max_distance_km)
    if f.run_id is not None:
        stmt = stmt.where(Match.run_id == f.run_id)
    if f.newcomer_id is not None:
        stmt = stmt.where(Match.newcomer_id == f.newcomer_id)
    if f.overdue_only:
        stmt = stmt.where(
            Match.id.in_(select(Commitment.match_id).where(Commitment.next_due < china_today()))
        )
    if f.region:
        in_region = select(Newcomer.id).where(under_indexed(Newcomer.region_code, f.region))
        stmt = stmt.where(Match.newcomer_id.in_(in_region))
    return stmt


def review_queue(
    session: Session, caller: Caller, f: ProposalFilter, *, sort: str, cursor: str | None, limit: int
) -> Paged[MatchView]:
    """Matches whose newcomer lies in the caller's jurisdiction, in `sort` order (keyset paginated)."""
    page = paginate(session, _queue_where(select(Match), caller, f), QUEUE_ORDER[sort], cursor, limit)
    return Paged(views_of(session, caller, page.items), page.next_cursor)


# Plain columns for the API's page: the same proposals as `review_queue`, read as Core rows.
MATCH_COLUMNS = tuple(getattr(Match, c.key) for c in Match.__table__.columns)
MENTOR_COLUMNS = (
    *(getattr(Mentor, name) for name in (*PARTY_FIELDS, "resources_offered", "kind", "capacity")),
    *(getattr(Mentor, name) for name in ("capacity_used", "fulfilment_rate", *TRACK_RECORD_FIELDS)),
)
NEWCOMER_COLUMNS = tuple(getattr(Newcomer, name) for name in (*PARTY_FIELDS, "resources_needed"))
PAST_MATCH_COLUMNS = tuple(getattr(Match, name) for name in ("mentor_id", *PastMatch.model_fields))


def review_queue_rows(
    session: Session, caller: Caller, f: ProposalFilter, *, sort: str, cursor: str | None, limit: int
) -> Paged[MatchView]:
    """`review_queue` as plain rows (the page's keys, then its matches and both sides: four queries).

    No ORM objects are built: the views hold plain rows, which the access rules and the body builder
    read by the same attribute names. The paged statement selects only the sort keys (an index
    holds them); the wide rows come from one fixed statement by id (app/plain_reads.py).
    """
    keys = QUEUE_ORDER[sort]
    stmt = _queue_where(select_columns(tuple(k.column for k in keys)), caller, f)
    ids = paginate(session, stmt, keys, cursor, limit)
    if not ids.items:
        return Paged([], ids.next_cursor)
    conn = session.connection()
    page = ids.rows_by_id(_matches_by_id().rows(conn, {"ids": [r.id for r in ids.items]}))
    mentor_ids = sorted({m.mentor_id for m in page.items})
    newcomer_ids = sorted({m.newcomer_id for m in page.items})
    mentors = {r.id: r for r in _mentors_by_id().rows(conn, {"ids": mentor_ids})}
    newcomers = {r.id: r for r in _newcomers_by_id().rows(conn, {"ids": newcomer_ids})}
    views = (view_of(caller, m, mentors[m.mentor_id], newcomers[m.newcomer_id]) for m in page.items)
    return Paged([v for v in views if v is not None], page.next_cursor)


def track_record_rows(session: Session, mentors: list[Any]) -> dict[int, TrackRecord]:
    """`track_records` for mentor rows: their past matches as plain rows, in one query."""
    records = {m.id: TrackRecord(m) for m in mentors}
    if not records:
        return records
    past = _past_matches().rows(session.connection(), {"ids": sorted(records)})
    _count_past(records, past)
    return records


# The page's statements after its keys, built and compiled once and read on the cursor (app/plain_reads.py):
# a list of ids is bound at run time, instead of coercing each id into a new statement per request.
@cache
def _matches_by_id() -> PlainSelect:
    return PlainSelect(select(*MATCH_COLUMNS).where(id_in(Match.id, "ids")))


@cache
def _mentors_by_id() -> PlainSelect:
    columns = (*MENTOR_COLUMNS, products_column(MENTORS))
    return PlainSelect(select(*columns).where(id_in(Mentor.id, "ids")))


@cache
def _newcomers_by_id() -> PlainSelect:
    columns = (*NEWCOMER_COLUMNS, products_column(NEWCOMERS))
    return PlainSelect(select(*columns).where(id_in(Newcomer.id, "ids")))


@cache
def _past_matches() -> PlainSelect:
    # The visible statuses are constants: rendered into the SQL text once.
    visible = bindparam("visible", list(VISIBLE_TO_PARTIES), expanding=True, literal_execute=True)
    return PlainSelect(
        select(*PAST_MATCH_COLUMNS)
        .where(id_in(Match.mentor_id, "ids"), Match.status.in_(visible))
        .order_by(Match.id.desc())
    )


def track_records(session: Session, mentors: list[Mentor]) -> dict[int, TrackRecord]:
    """The track records of some mentors, their past matches in one query."""
    records = {m.id: TrackRecord(m) for m in mentors}
    past = session.scalars(
        select(Match)
        .where(Match.mentor_id.in_(records), Match.status.in_(VISIBLE_TO_PARTIES))
        .order_by(Match.id.desc())
    )
    _count_past(records, past)
    return records


def _count_past(records: dict[int, TrackRecord], past: Iterable[Any]) -> None:
    """Outcomes per status, and the most recent matches shown (`past` comes newest first)."""
    counts: dict[int, Counter[str]] = {mid: Counter() for mid in records}
    for match in past:
        counts[match.mentor_id][match.status] += 1
        if len(records[match.mentor_id].past_matches) < PAST_MATCHES_SHOWN:
            records[match.mentor_id].past_matches.append(match)
    for mid, record in records.items():
        record.outcomes.update(counts[mid])


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
    reason = reasons.decided(reasons.NOTE, note) if note else None
    transition(session, match, MatchStatus.APPROVED, actor_id=caller.id, reason=reason)
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
        reason=reasons.decided(reason_code, note),
    )
    return view
