"""The coordinator's review queue, and approving or rejecting proposals."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.deps import Caller
from app.errors import NotFound
from app.etags import check_if_match
from app.matches.access import MatchView, load_view
from app.matches.states import transition
from app.models import Commitment, Match, Mentor, Newcomer, NewcomerProduct
from app.notifications.service import notify
from app.profiles.access import mask_phone

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
    category: str | None = None,
    min_score: float | None = None,
    max_distance_km: float | None = None,
    run_id: int | None = None,
    overdue_only: bool = False,
) -> list[Match]:
    """Proposals whose newcomer lies in the caller's jurisdiction, best first (keyset paginated)."""
    stmt = select(Match).where(Match.status == STATUS_ALIASES.get(status, status))
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
    if overdue_only:
        stmt = stmt.where(
            Match.id.in_(select(Commitment.match_id).where(Commitment.next_due < utcnow().date()))
        )
    if caller.role != "admin":
        stmt = stmt.where(
            Match.newcomer_county_code.startswith(caller.jurisdiction or "\x00", autoescape=True)
        )
    if region:
        stmt = stmt.join(Newcomer, Newcomer.id == Match.newcomer_id).where(
            Newcomer.region_code.startswith(region, autoescape=True)
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


def party_summary(profile: Mentor | Newcomer, *, full_phone: bool) -> dict[str, Any]:
    """One side of a pair, phone masked unless the viewer needs it."""
    data: dict[str, Any] = {
        "id": profile.id,
        "name": profile.name,
        "region_code": profile.region_code,
        "county_code": profile.county_code,
        "products": [p.category_code for p in profile.products],
        "channels": profile.channels,
        "phone": profile.phone if full_phone else mask_phone(profile.phone),
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
    match: Match, mentor: Mentor, newcomer: Newcomer, *, counterpart_phones: bool = False
) -> dict[str, Any]:
    """The response fields of a match; phones in full only between the parties of an active match."""
    data = {c.key: getattr(match, c.key) for c in Match.__table__.columns}
    show = counterpart_phones and match.status == "active"
    data["mentor"] = party_summary(mentor, full_phone=show)
    data["newcomer"] = party_summary(newcomer, full_phone=show)
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
    view = load_view(session, caller, match_id)
    if not view.is_reviewer:
        raise NotFound()
    return view


def mentor_record(session: Session, mentor_id: int) -> dict[str, int]:
    """A mentor's track record for the reviewer: matches by outcome so far."""
    rows = session.execute(
        select(Match.status, func.count())
        .where(
            Match.mentor_id == mentor_id, Match.status.in_(("approved", "active", "completed", "cancelled"))
        )
        .group_by(Match.status)
    ).all()
    return {status: int(n) for status, n in rows}
