"""The coordinator's review queue, and approving or rejecting proposals."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from app.access import Caller
from app.access.matches import MatchView, load_reviewable, review_scope
from app.access.profiles import mask_phone
from app.access.regions import under
from app.db import utcnow
from app.etags import check_if_match
from app.matches.states import transition
from app.models import Match, Mentor, Newcomer
from app.models.matches import VISIBLE_TO_PARTIES
from app.notifications.service import notify

STATUS_ALIASES = {"pending": "proposed"}


def review_queue(
    session: Session,
    caller: Caller,
    *,
    status: str,
    region: str | None,
    sort: str,
    after: list[Any] | None,
    limit: int,
) -> list[Match]:
    """Proposals whose newcomer lies in the caller's jurisdiction, best first (keyset paginated)."""
    stmt = select(Match).where(Match.status == STATUS_ALIASES.get(status, status))
    stmt = stmt.where(review_scope(caller))
    if region:
        stmt = stmt.join(Newcomer, Newcomer.id == Match.newcomer_id).where(
            under(Newcomer.region_code, region)
        )
    if sort == "-score":
        stmt = stmt.order_by(Match.score.desc(), Match.id.desc())
        if after:
            stmt = stmt.where(or_(Match.score < after[0], and_(Match.score == after[0], Match.id < after[1])))
    else:
        stmt = stmt.order_by(Match.id.desc())
        if after:
            stmt = stmt.where(Match.id < after[1])
    return list(session.scalars(stmt.limit(limit)))


def summaries(session: Session, matches: list[Match]) -> tuple[dict[int, Mentor], dict[int, Newcomer]]:
    """The profiles of a page of matches, in two queries."""
    mentors = {
        m.id: m for m in session.scalars(select(Mentor).where(Mentor.id.in_({x.mentor_id for x in matches})))
    }
    newcomers = {
        n.id: n
        for n in session.scalars(select(Newcomer).where(Newcomer.id.in_({x.newcomer_id for x in matches})))
    }
    return mentors, newcomers


PAST_MATCHES_SHOWN = 10


def track_records(session: Session, mentor_ids: set[int]) -> dict[int, dict[str, Any]]:
    """What a reviewer judges a mentor by: profile facts, past matches and their outcomes (one query)."""
    mentors = session.scalars(select(Mentor).where(Mentor.id.in_(mentor_ids)))
    records: dict[int, dict[str, Any]] = {
        m.id: {
            "years_selling": m.years_selling,
            "honours": m.honours,
            "sales_band": m.sales_band,
            "orders_per_month": m.orders_per_month,
            "employees": m.employees,
            "story": m.story,
            "fulfilment_rate": m.fulfilment_rate,
            "outcomes": {},
            "past_matches": [],
        }
        for m in mentors
    }
    past = session.scalars(
        select(Match)
        .where(Match.mentor_id.in_(mentor_ids), Match.status.in_(VISIBLE_TO_PARTIES))
        .order_by(Match.id.desc())
    )
    for match in past:
        record = records[match.mentor_id]
        record["outcomes"][match.status] = record["outcomes"].get(match.status, 0) + 1
        if len(record["past_matches"]) < PAST_MATCHES_SHOWN:
            record["past_matches"].append(match)
    return records


def party_summary(profile: Mentor | Newcomer, *, phone: str | None) -> dict[str, Any]:
    """One side of a pair, phone masked unless the viewer needs it."""
    data: dict[str, Any] = {
        "id": profile.id,
        "name": profile.name,
        "region_code": profile.region_code,
        "county_code": profile.county_code,
        "products": [p.category_code for p in profile.products],
        "channels": profile.channels,
        "phone": phone,
    }
    if isinstance(profile, Mentor):
        data.update(
            resources=[o["type"] for o in profile.resources_offered],
            kind=profile.kind,
            capacity_left=profile.capacity - profile.capacity_used,
            fulfilment_rate=profile.fulfilment_rate,
        )
    else:
        data["resources"] = profile.resources_needed
    return data


def match_body(
    match: Match,
    mentor: Mentor,
    newcomer: Newcomer,
    *,
    view: MatchView | None = None,
    track_record: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The response fields of a match; phones in full only between the parties of an active match."""
    data = {c.key: getattr(match, c.key) for c in Match.__table__.columns}
    # Phones as the caller's relation to the match allows (masked for anyone who is not a party).
    data["mentor"] = party_summary(mentor, phone=view.phone_of(mentor) if view else mask_phone(mentor.phone))
    data["newcomer"] = party_summary(
        newcomer, phone=view.phone_of(newcomer) if view else mask_phone(newcomer.phone)
    )
    data["mentor"]["track_record"] = track_record
    return data


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
    transition(session, match, "approved", actor_id=caller.id, reason=note)
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
    transition(session, match, "rejected", actor_id=caller.id, reason=f"{reason_code}: {note or ''}".strip())
    return view


def reviewable(session: Session, caller: Caller, match_id: int) -> MatchView:
    """A match the caller reviews (coordinator of the newcomer's region, or admin), else 404."""
    return load_reviewable(session, caller, match_id)
