"""Bodies of proposals (a pair as a reviewer and the parties see it), their decisions and commitments."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import ConfigDict, Field

from app.models import Match, Mentor, Newcomer
from app.models.matches import MatchStatus
from app.profiles.schemas import ResourceType
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
    area: str
    description: str
    description_en: str | None = None
    cadence_days: int


class PastMatch(Output):
    """One earlier match of a mentor and how it went (no personal data of that newcomer)."""

    id: int
    status: str
    newcomer_county_code: str
    decided_at: datetime | None
    updated_at: datetime


class TrackRecordRead(Output):
    """What a reviewer judges a mentor by: experience, honours, scale, story and past outcomes."""

    years_selling: int | None
    honours: list[str]
    sales_band: str | None
    orders_per_month: int | None
    employees: int | None
    story: str
    fulfilment_rate: float | None
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
    name: str
    region_code: str
    county_code: str
    products: list[str]
    channels: list[str]
    resources: list[str] = Field(description="Offered (mentor) or needed (newcomer)")
    kind: str | None = None
    capacity_left: int | None = None
    fulfilment_rate: float | None = None
    phone: str | None = None
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
    run_id: int | None
    status: str
    score: float
    score_parts: dict[str, float]
    rank: int
    distance_km: float | None = Field(default=None, description="Between the two counties' centres")
    reasons: dict[str, list[str]]
    suggested_commitments: list[CommitmentSuggestion]
    newcomer: PartySummary
    mentor: PartySummary
    mentor_accepted: bool
    newcomer_accepted: bool
    reason_code: str | None
    reason_note: str | None
    decided_at: datetime | None
    version: int
    created_at: datetime

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
