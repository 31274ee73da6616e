"""Bodies of proposals, matches, commitments and matching runs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field

from app.profiles.schemas import ResourceType
from app.schemas import Input, Output, RegionCodeStr
from matching import vocab

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
CancelReason = Literal["party_withdrew", "commitments_unmet", "mutual_agreement", "other"]


class CommitmentIn(Input):
    """A resource-sharing commitment as a coordinator sets it at approval."""

    resource_type: ResourceType
    area: Area
    description: str = Field(min_length=1, max_length=500)
    cadence_days: int = Field(ge=1, le=180)


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


class TrackRecord(Output):
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
    track_record: TrackRecord | None = Field(
        default=None, description="The mentor's track record, in proposals for their reviewers"
    )


class ProposalRead(Output):
    """A proposed, decided or running pair."""

    id: int
    run_id: int | None
    status: str
    score: float
    score_parts: dict[str, float]
    rank: int
    explored: bool = Field(default=False, description="Drawn outside the newcomer's top choice (exploration)")
    propensity: float | None = Field(default=None, description="Probability the policy gave this draw")
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


class ApproveRequest(Input):
    """Approve a proposal, optionally replacing the suggested commitments."""

    commitments: list[CommitmentIn] | None = Field(default=None, min_length=1, max_length=8)
    note: str | None = Field(default=None, max_length=1000)


class RejectRequest(Input):
    """Reject a proposal with a reason from the fixed list."""

    reason_code: RejectReason
    note: str | None = Field(default=None, max_length=1000)


class DeclineRequest(Input):
    """A party declines an approved match."""

    note: str | None = Field(default=None, max_length=1000)


class CancelRequest(Input):
    """End an active match early."""

    reason_code: CancelReason
    note: str | None = Field(default=None, max_length=1000)


class TransitionRead(Output):
    """One audit-log entry."""

    from_status: str | None
    to_status: str
    actor_id: int | None
    reason: str | None
    at: datetime


class CommitmentRead(Output):
    """A commitment of an active match and how it is going."""

    id: int
    match_id: int
    resource_type: str
    area: str
    description: str
    cadence_days: int
    next_due: date | None
    overdue: bool
    done_count: int
    partial_count: int
    missed_count: int


class CheckInCreate(Input):
    """A party reports on a commitment."""

    outcome: Literal["done", "partial", "missed"]
    note: str = Field(default="", max_length=2000)
    evidence_url: str | None = Field(default=None, max_length=512, pattern=r"^https?://\S+$")


class CheckInRead(Output):
    """A stored check-in."""

    id: int
    commitment_id: int
    author_id: int
    outcome: str
    note: str
    evidence_url: str | None
    created_at: datetime


class RunCreate(Input):
    """Start a matching run over (part of) the caller's jurisdiction."""

    scope_code: RegionCodeStr | None = Field(
        default=None,
        description="Region whose newcomers are matched; omit for the whole country (admin only)",
    )
    separation: Literal["county", "prefecture", "province"] = "county"
    max_distance_km: float | None = Field(default=None, gt=0, le=5000)
    k: int = Field(default=10, ge=1, le=50)
    use_learned_ranker: bool = Field(
        default=False, description="Re-rank with the active model of the scope's province (else national)"
    )
    model_version_id: int | None = Field(
        default=None, description="Pin this model version (implies re-ranking)"
    )
    same_product_same_prefecture: Literal["penalise", "exclude"] = "penalise"
    pairing: Literal["any", "same_trade", "chain", "mixed"] = Field(
        default="any",
        description="Product relation of the pairs: by score, same trade, chain links, or mixed",
    )
    chain_share: float = Field(
        default=0.5, ge=0, le=1, description="Target share of chain pairs in mixed mode"
    )
    exploration: float = Field(
        default=0.05, ge=0, le=0.5, description="Share of proposals drawn outside the top choice, flagged"
    )


class RunRead(Output):
    """A matching run: parameters, progress, results."""

    id: int
    scope_code: str
    policy: dict[str, object]
    status: str
    progress: float
    model_version_id: int | None
    counts: dict[str, object]
    evaluation: dict[str, object]
    error_detail: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class Accepted(Output):
    """202 answer for work that runs in the background."""

    id: int
    status: str
    url: str
