"""The one bridge between database rows and the pure `matching` package, in both directions."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.access.regions import under
from app.models import Match, Mentor, Newcomer, Region
from app.models.matches import SEAT_HOLDING, MatchStatus
from app.outcomes.labels import outcome_labels
from matching import MentorTable, NewcomerTable, Policy, ProposalSet
from matching.regions import LEVEL_DIVISOR, haversine_km

if TYPE_CHECKING:
    from app.runs.schemas import RunCreate

# Pairs a coordinator or a party has already turned down are never proposed again.
EXCLUDING_STATUSES = (MatchStatus.REJECTED, MatchStatus.DECLINED)
APPROVED_STATUSES = (MatchStatus.APPROVED, MatchStatus.ACTIVE, MatchStatus.COMPLETED)


def policy_of(params: RunCreate) -> Policy:
    """The model's policy for a run's parameters (the only place the two meet)."""
    return Policy(
        separation=params.separation,
        max_distance_km=params.max_distance_km,
        k=params.k,
        same_product_same_prefecture=params.same_product_same_prefecture,
        pairing=params.pairing,
        chain_share=params.chain_share,
        exploration=params.exploration,
    )


CountyPoints = dict[str, tuple[float | None, float | None, float | None]]
_POINTS_TTL_SECONDS = 300.0
_points_cache: dict[str, tuple[float, CountyPoints]] = {}


def _county_points(session: Session) -> CountyPoints:
    """(lat, lon, penetration) per county: reference data, so kept for a few minutes per database."""
    key = str(session.get_bind().engine.url)
    hit = _points_cache.get(key)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    rows = session.execute(
        select(Region.code, Region.lat, Region.lon, Region.penetration).where(Region.level == "county")
    )
    points = {code: (lat, lon, pen) for code, lat, lon, pen in rows}
    _points_cache[key] = (time.monotonic() + _POINTS_TTL_SECONDS, points)
    return points


def _decision_counts(session: Session, mentor_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(approved, declined or rejected) proposals per mentor: the mentor's record with coordinators."""
    stmt = select(Match.mentor_id, Match.status, func.count()).where(
        Match.status.in_((*APPROVED_STATUSES, *EXCLUDING_STATUSES))
    )
    if len(mentor_ids) < 30_000:
        stmt = stmt.where(Match.mentor_id.in_(mentor_ids))
    out: dict[int, list[int]] = {}
    for mid, status, n in session.execute(stmt.group_by(Match.mentor_id, Match.status)):
        counts = out.setdefault(int(mid), [0, 0])
        counts[0 if status in APPROVED_STATUSES else 1] += int(n)
    return {k: (a, b) for k, (a, b) in out.items()}


def mentor_records(session: Session, mentors: list[Mentor]) -> list[dict[str, Any]]:
    """Matching records of the given mentors."""
    points = _county_points(session)
    counts = _decision_counts(session, [m.id for m in mentors])
    records = []
    for m in mentors:
        lat, lon, _ = points.get(m.county_code, (None, None, None))
        records.append(
            {
                "id": m.id,
                "county_code": m.county_code,
                "lat": lat,
                "lon": lon,
                "products": [p.category_code for p in m.products],
                "channels": m.channels,
                "resources_offered": [o["type"] for o in m.resources_offered],
                "languages": m.languages,
                "capacity_left": max(m.capacity - m.capacity_used, 0),
                "fulfilment_rate": m.fulfilment_rate,
                "years_selling": float(m.years_selling or 0),
                "kind": m.kind,
                "sales_band": m.sales_band or "lt10",
                "honours": m.honours,
                "past_approvals": counts.get(m.id, (0, 0))[0],
                "past_declines": counts.get(m.id, (0, 0))[1],
                "text": m.story,
            }
        )
    return records


def load_mentors(session: Session) -> MentorTable:
    """Every active mentor with a seat left, anywhere: the point is to look beyond the county."""
    rows = list(
        session.scalars(
            select(Mentor)
            .where(Mentor.is_active.is_(True), Mentor.capacity_used < Mentor.capacity)
            .order_by(Mentor.id)
        )
    )
    return MentorTable.from_records(mentor_records(session, rows))


def may_recommend(mentor: Mentor, newcomer: Newcomer, separation: str) -> bool:
    """The hard rules of a real-time recommendation, on the rows as they are now: the mentor is active,
    has a seat left and is outside the newcomer's region at the policy's separation level."""
    divisor = LEVEL_DIVISOR[separation]
    return (
        mentor.is_active
        and mentor.capacity_used < mentor.capacity
        and int(mentor.county_code) // divisor != int(newcomer.county_code) // divisor
    )


def newcomer_records(session: Session, newcomers: list[Newcomer]) -> list[dict[str, Any]]:
    """Matching records of the given newcomers."""
    points = _county_points(session)
    ids = [n.id for n in newcomers]
    holding = set(
        session.scalars(
            select(Match.newcomer_id).where(Match.newcomer_id.in_(ids), Match.status.in_(SEAT_HOLDING))
        )
    )
    records = []
    for n in newcomers:
        lat, lon, pen = points.get(n.county_code, (None, None, None))
        records.append(
            {
                "id": n.id,
                "county_code": n.county_code,
                "lat": lat,
                "lon": lon,
                "products": [p.category_code for p in n.products],
                "channels": n.channels,
                "resources_needed": n.resources_needed,
                "languages": n.languages,
                "has_active_mentor": n.id in holding,
                "county_penetration": pen,
                "experience_years": float(n.experience_years),
                "internet": n.internet,
                "courier_km": n.courier_km,
                "text": n.story + " " + n.goals,
            }
        )
    return records


def load_newcomers(session: Session, scope_code: str) -> NewcomerTable:
    """Active newcomers located under a region code."""
    rows = list(
        session.scalars(
            select(Newcomer)
            .where(Newcomer.is_active.is_(True), under(Newcomer.region_code, scope_code))
            .order_by(Newcomer.id)
        )
    )
    return NewcomerTable.from_records(newcomer_records(session, rows))


def excluded_pairs(session: Session, newcomer_ids: list[int]) -> list[tuple[int, int]]:
    """(newcomer, mentor) pairs already rejected or declined."""
    stmt = select(Match.newcomer_id, Match.mentor_id).where(Match.status.in_(EXCLUDING_STATUSES))
    if len(newcomer_ids) < 30_000:
        stmt = stmt.where(Match.newcomer_id.in_(newcomer_ids))
    return [(int(a), int(b)) for a, b in session.execute(stmt)]


def proposal_rows(
    proposals: ProposalSet, mentors: MentorTable, newcomers: NewcomerTable, run_id: int | None
) -> list[dict[str, Any]]:
    """Match rows (status proposed) for a proposal set, with reasons in both languages and commitments."""
    m_county = dict(zip(mentors.ids.tolist(), mentors.county.tolist(), strict=True))
    n_county = dict(zip(newcomers.ids.tolist(), newcomers.county.tolist(), strict=True))
    km = haversine_km(
        newcomers.lat[proposals.newcomer_row],
        newcomers.lon[proposals.newcomer_row],
        mentors.lat[proposals.mentor_row],
        mentors.lon[proposals.mentor_row],
    )
    rows = []
    for i in range(len(proposals)):
        nid, mid = int(proposals.newcomer_id[i]), int(proposals.mentor_id[i])
        rows.append(
            {
                "run_id": run_id,
                "newcomer_id": nid,
                "mentor_id": mid,
                "status": MatchStatus.PROPOSED.value,
                "newcomer_county_code": f"{n_county[nid]:06d}",
                "mentor_county_code": f"{m_county[mid]:06d}",
                "score": float(proposals.score[i]),
                "score_parts": proposals.parts_of(i),
                "rank": int(proposals.rank[i]),
                "distance_km": round(float(km[i]), 1),
                "reasons": {"zh": proposals.explain(i, "zh"), "en": proposals.explain(i, "en")},
                "suggested_commitments": [commitment_dict(c) for c in proposals.commitments(i)],
                "explored": bool(proposals.explored[i]),
                "propensity": float(proposals.propensity[i]),
                "version": 1,
            }
        )
    return rows


def commitment_dict(c: Any) -> dict[str, Any]:
    """A suggested commitment as stored on a match."""
    return {
        "resource_type": c.resource,
        "area": c.area,
        "description": c.description_zh,
        "description_en": c.description_en,
        "cadence_days": c.cadence_days,
    }


def outcome_pairs(session: Session) -> list[tuple[int, int, int]]:
    """(newcomer, mentor, 1 if the pairing succeeded else 0) from outcomes: a label beside approvals."""
    return [(o.newcomer_id, o.mentor_id, int(o.success)) for o in outcome_labels(session)]
