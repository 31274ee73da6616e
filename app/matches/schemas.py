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


class ProposalRead(Output):
    """A proposed, decided or running pair."""

    id: int
    run_id: int | None
    status: str
    score: float
    score_parts: dict[str, float]
    rank: int
    distance_km: float | None = None
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
    use_learned_ranker: bool = False
    same_product_same_prefecture: Literal["penalise", "exclude"] = "penalise"


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
