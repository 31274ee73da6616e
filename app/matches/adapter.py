"""The one bridge between database rows and the pure `matching` package, in both directions."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from app.access.regions import under
from app.matches.parties import pairable
from app.models import Match, Mentor, Newcomer, Region
from app.models.matches import SEAT_HOLDING, MatchStatus
from app.outcomes.labels import outcome_labels
from matching import MentorTable, NewcomerTable, Policy, ProposalSet
from matching.regions import LEVEL_DIVISOR, haversine_km

if TYPE_CHECKING:
    from app.runs.schemas import RunCreate

# A coordinator's or a party's no: the mentor's record with coordinators counts these.
EXCLUDING_STATUSES = (MatchStatus.REJECTED, MatchStatus.DECLINED)
# Pairs never proposed again: turned down, or together once already (ended by a party, a coordinator or
# a deactivation, or completed). A newcomer who walked away from a mentor is not sent straight back.
NOT_AGAIN_STATUSES = (*EXCLUDING_STATUSES, MatchStatus.CANCELLED, MatchStatus.COMPLETED)
APPROVED_STATUSES = (MatchStatus.APPROVED, MatchStatus.ACTIVE, MatchStatus.COMPLETED)
# Who a run may propose: a mentor still taking newcomers, a newcomer still in the run's scope.
OPEN_MENTOR = pairable(Mentor) & (Mentor.capacity_used < Mentor.capacity)


def newcomers_in(scope_code: str) -> ColumnElement[bool]:
    """Pairable newcomers located under a region code."""
    return pairable(Newcomer) & under(Newcomer.region_code, scope_code)


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
    rows = list(session.scalars(select(Mentor).where(OPEN_MENTOR).order_by(Mentor.id)))
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
    rows = list(session.scalars(select(Newcomer).where(newcomers_in(scope_code)).order_by(Newcomer.id)))
    return NewcomerTable.from_records(newcomer_records(session, rows))


def excluded_pairs(session: Session, newcomer_ids: list[int]) -> list[tuple[int, int]]:
    """(newcomer, mentor) pairs never proposed again (NOT_AGAIN_STATUSES)."""
    stmt = select(Match.newcomer_id, Match.mentor_id).where(Match.status.in_(NOT_AGAIN_STATUSES))
    if len(newcomer_ids) < 30_000:
        stmt = stmt.where(Match.newcomer_id.in_(newcomer_ids))
    return [(int(a), int(b)) for a, b in session.execute(stmt)]


def still_open(session: Session, scope_code: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The proposal rows a run may still write, judged on the tables as they are now.

    A run reads its tables when it starts and writes minutes later; meanwhile coordinators decide and
    profiles change. A row is dropped if its pair was rejected or declined since, if its newcomer took
    a mentor, left the scope or was deactivated, if its mentor was deactivated, or if either party
    moved to another county (the separation held for the counties the model saw). A mentor keeps at
    most the seats it has left now, its best-scored rows first. Run it in the writing transaction after
    the scope's pending proposals are superseded: that UPDATE waits for decisions in flight on them.
    """
    in_scope = select(Newcomer.id).where(newcomers_in(scope_code))
    newcomer_county = {
        nid: county
        for nid, county in session.execute(
            select(Newcomer.id, Newcomer.county_code).where(newcomers_in(scope_code))
        )
    }
    seated = set(
        session.scalars(
            select(Match.newcomer_id).where(Match.status.in_(SEAT_HOLDING), Match.newcomer_id.in_(in_scope))
        )
    )
    turned_down = {
        (nid, mid)
        for nid, mid in session.execute(
            select(Match.newcomer_id, Match.mentor_id).where(
                Match.status.in_(NOT_AGAIN_STATUSES), Match.newcomer_id.in_(in_scope)
            )
        )
    }
    mentors = {
        mid: (county, seats)
        for mid, county, seats in session.execute(
            select(Mentor.id, Mentor.county_code, Mentor.capacity - Mentor.capacity_used).where(OPEN_MENTOR)
        )
    }
    kept, seats_used = [], dict.fromkeys(mentors, 0)
    for i in sorted(range(len(rows)), key=lambda i: -rows[i]["score"]):
        row = rows[i]
        nid, mid = row["newcomer_id"], row["mentor_id"]
        mentor = mentors.get(mid)
        if (
            mentor is None
            or mentor[0] != row["mentor_county_code"]
            or newcomer_county.get(nid) != row["newcomer_county_code"]
            or nid in seated
            or (nid, mid) in turned_down
            or seats_used[mid] >= mentor[1]
        ):
            continue
        seats_used[mid] += 1
        kept.append(i)
    return [rows[i] for i in sorted(kept)]


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
