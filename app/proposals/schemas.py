"""Bodies of proposals (a pair as a reviewer and the parties see it), their decisions and commitments."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ConfigDict, Field

from app.models import Match, Mentor, Newcomer
from app.models.matches import MatchStatus
from app.profiles.schemas import ResourceType
from app.profiles.service import product_list
from app.schemas import Input, Output
from matching import vocab

if TYPE_CHECKING:
    from app.access.matches import MatchView
    from app.proposals.service import TrackRecord

Area = Literal[vocab.AREAS]  # type: ignore[valid-type]
RejectReason = Literal[
    "not_complementary",
    "too_far",
    "same_market",
    "mentor_unsuitable",
    "newcomer_not_ready",
    "duplicate",
    "other",
]
# The queue filter names statuses as the body does; "pending" is the old name of "proposed", still accepted.
StatusFilter = MatchStatus | Literal["pending"]
PENDING_ALIAS = "pending"


class CommitmentIn(Input):
    """A resource-sharing commitment as a coordinator sets it at approval."""

    resource_type: ResourceType
    """What is shared: information, technology, human_capital or logistics"""
    area: Area
    """Area of collaboration (GET /api/v1/vocabularies: areas)"""
    description: str = Field(min_length=1, max_length=500)
    """The concrete commitment, e.g. 每两周一次直播带货指导"""
    cadence_days: int = Field(ge=1, le=180)
    """Length of one reporting period, in days"""


class CommitmentSuggestion(Output):
    """A commitment the model suggests (offered ∩ needed)."""

    resource_type: str
    """Resource type both offered and needed"""
    area: str
    """Area of collaboration"""
    description: str
    """What to do, in Chinese"""
    description_en: str | None = None
    """The same in English"""
    cadence_days: int
    """Length of one reporting period (days)"""


class PastMatch(Output):
    """One earlier match of a mentor and how it went (no personal data of that newcomer)."""

    id: int
    """Match id"""
    status: str
    """approved, active, completed, cancelled or declined"""
    newcomer_county_code: str
    """County of that newcomer (no personal data)"""
    decided_at: datetime | None
    """When it was approved"""
    updated_at: datetime
    """Last change"""


class TrackRecordRead(Output):
    """What a reviewer judges a mentor by: experience, honours, scale, story and past outcomes."""

    years_selling: int | None
    """Years of selling online"""
    honours: list[str]
    """Titles held"""
    sales_band: str | None
    """Annual sales band (10,000 CNY)"""
    orders_per_month: int | None
    """Typical orders a month"""
    employees: int | None
    """People employed"""
    story: str
    """In the mentor's words"""
    fulfilment_rate: float | None
    """Share of commitment periods kept, null before any"""
    outcomes: dict[str, int] = Field(description="Past matches (approved or later) per status")
    past_matches: list[PastMatch] = Field(description="The most recent ones, newest first")

    @classmethod
    def of(cls, record: TrackRecord) -> TrackRecordRead:
        """Map a mentor's track record."""
        m = record.mentor
        return cls(
            years_selling=m.years_selling,
            honours=m.honours,
            sales_band=m.sales_band,
            orders_per_month=m.orders_per_month,
            employees=m.employees,
            story=m.story,
            fulfilment_rate=m.fulfilment_rate,
            outcomes=record.outcomes,
            past_matches=[PastMatch.model_validate(p) for p in record.past_matches],
        )


class PartySummary(Output):
    """What a reviewer needs to know about one side of a pair."""

    id: int
    """Profile id"""
    name: str
    """Name"""
    region_code: str
    """Most precise division known"""
    county_code: str
    """County code"""
    products: list[str]
    """Category codes, main first"""
    channels: list[str]
    """Channels"""
    resources: list[str] = Field(description="Offered (mentor) or needed (newcomer)")
    kind: str | None = None
    """Mentors: household, cooperative or enterprise"""
    capacity_left: int | None = None
    """Mentors: free seats"""
    fulfilment_rate: float | None = None
    """Mentors: share of commitment periods kept"""
    phone: str | None = None
    """Masked unless the viewer needs it (an active match's other party sees it)"""
    track_record: TrackRecordRead | None = Field(
        default=None, description="The mentor's track record, in proposals for their reviewers"
    )

    @classmethod
    def of(
        cls, profile: Mentor | Newcomer, *, phone: str | None, track_record: TrackRecord | None = None
    ) -> PartySummary:
        """Map one side of a pair; the phone comes as the access rules let the caller see it."""
        common = {
            "id": profile.id,
            "name": profile.name,
            "region_code": profile.region_code,
            "county_code": profile.county_code,
            "products": [p.category_code for p in profile.products],
            "channels": profile.channels,
            "phone": phone,
        }
        if isinstance(profile, Newcomer):
            return cls(**common, resources=profile.resources_needed)
        return cls(
            **common,
            resources=[o["type"] for o in profile.resources_offered],
            kind=profile.kind,
            capacity_left=profile.capacity_left,
            fulfilment_rate=profile.fulfilment_rate,
            track_record=TrackRecordRead.of(track_record) if track_record else None,
        )


class ProposalRead(Output):
    """A proposed, decided or running pair."""

    id: int
    """Match id (the same through its whole life)"""
    run_id: int | None
    """The matching run that proposed it"""
    status: str
    """proposed, approved, active, completed, rejected, declined, cancelled or superseded"""
    score: float
    """0 to 1; the queue's order"""
    score_parts: dict[str, float]
    """The interpretable parts of the score"""
    rank: int
    """Rank of this mentor among the newcomer's candidates (1: best)"""
    distance_km: float | None = Field(default=None, description="Between the two counties' centres")
    reasons: dict[str, list[str]]
    """Why, in words a coordinator understands (zh, en)"""
    suggested_commitments: list[CommitmentSuggestion]
    """Offered and needed resources, as commitments"""
    explored: bool = Field(
        description="Drawn by exploration from the newcomer's pool outside the top choice, so the model "
        "also learns from pairs it would not have chosen"
    )
    propensity: float | None = Field(
        description="Probability the run's policy gave this proposal's draw (None before exploration "
        "was logged); decisions on explored pairs can be weighted by 1 / propensity"
    )
    newcomer: PartySummary
    """The newcomer side"""
    mentor: PartySummary
    """The mentor side"""
    mentor_accepted: bool
    """The mentor has accepted"""
    newcomer_accepted: bool
    """The newcomer has accepted"""
    reason_code: str | None
    """The reviewer's or party's reason code, when decided against"""
    reason_note: str | None
    """Free text with the decision: an approval's note (the parties read it too) or a rejection's"""
    decided_at: datetime | None
    """When approved or rejected"""
    version: int
    """Row version; the ETag header carries it for If-Match"""
    created_at: datetime
    """When proposed (UTC)"""

    @classmethod
    def of(cls, view: MatchView, track_record: TrackRecord | None = None) -> ProposalRead:
        """Map a match as the caller sees it (phones per the access rules)."""
        m: Match = view.match
        return cls(
            id=m.id,
            run_id=m.run_id,
            status=m.status,
            score=m.score,
            score_parts=m.score_parts,
            rank=m.rank,
            distance_km=m.distance_km,
            reasons=m.reasons,
            suggested_commitments=[CommitmentSuggestion.model_validate(c) for c in m.suggested_commitments],
            explored=m.explored,
            propensity=m.propensity,
            newcomer=PartySummary.of(view.newcomer, phone=view.phone_of(view.newcomer)),
            mentor=PartySummary.of(view.mentor, phone=view.phone_of(view.mentor), track_record=track_record),
            mentor_accepted=m.mentor_accepted,
            newcomer_accepted=m.newcomer_accepted,
            reason_code=m.reason_code,
            reason_note=m.reason_note,
            decided_at=m.decided_at,
            version=m.version,
            created_at=m.created_at,
        )


class ApproveRequest(Input):
    """Approve a proposal, optionally replacing the suggested commitments."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"note": "产业链上下游，可以试"},
                {
                    "note": "先做直播培训",
                    "commitments": [
                        {
                            "resource_type": "technology",
                            "area": "marketing_innovation",
                            "description": "每两周一次直播带货指导",
                            "cadence_days": 14,
                        }
                    ],
                },
            ]
        }
    )

    commitments: list[CommitmentIn] | None = Field(default=None, min_length=1, max_length=8)
    """Replaces the suggested commitments; omit to keep the suggestions"""
    note: str | None = Field(default=None, max_length=1000)
    """Why, for the audit log and the parties"""


class RejectRequest(Input):
    """Reject a proposal with a reason from the fixed list."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason_code": "too_far", "note": "活体植物运输距离太长"}]}
    )

    reason_code: RejectReason
    """Why (GET /api/v1/vocabularies: reject_reasons); the model learns from it"""
    note: str | None = Field(default=None, max_length=1000)
    """Free text for the audit log"""


# What a party summary and a track record read of a profile row (besides products and derived fields).
PARTY_FIELDS = ("id", "name", "region_code", "county_code", "channels", "phone", "account_id")
TRACK_RECORD_FIELDS = ("years_selling", "honours", "sales_band", "orders_per_month", "employees", "story")
_SUGGESTION_FIELDS = tuple(CommitmentSuggestion.model_fields)
_PAST_FIELDS = tuple(PastMatch.model_fields)


def _party_body(row: Any, phone: str | None) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "region_code": row.region_code,
        "county_code": row.county_code,
        "products": product_list(row.product_codes),
        "channels": row.channels,
        "phone": phone,
    }


def proposal_body(view: MatchView, record: TrackRecord) -> dict[str, Any]:
    """`ProposalRead.of(view, record)` as its JSON body, from plain rows, without a validation pass.

    The view holds Core rows (`service.review_queue_rows`), the record their past matches. A test holds
    this body equal to the model's own serialisation of the same proposal.
    """
    m, mentor, newcomer = view.match, view.mentor, view.newcomer
    mentor_body = _party_body(mentor, view.phone_of(mentor))
    mentor_body.update(
        resources=[o["type"] for o in mentor.resources_offered],
        kind=mentor.kind,
        capacity_left=mentor.capacity - mentor.capacity_used,
        fulfilment_rate=mentor.fulfilment_rate,
        track_record={
            **{name: getattr(mentor, name) for name in TRACK_RECORD_FIELDS},
            "fulfilment_rate": mentor.fulfilment_rate,
            "outcomes": dict(record.outcomes),
            "past_matches": [{name: getattr(p, name) for name in _PAST_FIELDS} for p in record.past_matches],
        },
    )
    newcomer_body = _party_body(newcomer, view.phone_of(newcomer))
    newcomer_body.update(
        resources=newcomer.resources_needed,
        kind=None,
        capacity_left=None,
        fulfilment_rate=None,
        track_record=None,
    )
    return {
        "id": m.id,
        "run_id": m.run_id,
        "status": m.status,
        "score": float(m.score),
        "score_parts": {k: float(v) for k, v in m.score_parts.items()},
        "rank": m.rank,
        "distance_km": m.distance_km,
        "reasons": m.reasons,
        "suggested_commitments": [
            {name: c.get(name) for name in _SUGGESTION_FIELDS} for c in m.suggested_commitments
        ],
        "explored": m.explored,
        "propensity": m.propensity,
        "newcomer": newcomer_body,
        "mentor": mentor_body,
        "mentor_accepted": m.mentor_accepted,
        "newcomer_accepted": m.newcomer_accepted,
        "reason_code": m.reason_code,
        "reason_note": m.reason_note,
        "decided_at": m.decided_at,
        "version": m.version,
        "created_at": m.created_at,
    }
