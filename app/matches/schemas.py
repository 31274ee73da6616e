"""Bodies of matches after approval: answers of the parties, the audit log, commitments, check-ins.

A match is shown with the same body as a proposal (`ProposalRead`): it is one pair through its life.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Literal

from pydantic import ConfigDict, Field

from app.access.roles import MobileRoleName
from app.models.matches import CheckInOutcome
from app.schemas import Input, Output

if TYPE_CHECKING:
    from app.matches.commitments import CommitmentState

CancelReason = Literal["party_withdrew", "commitments_unmet", "mutual_agreement", "other"]
# A side of a match; its values are the two mobile roles.
Party = MobileRoleName


class AcceptRequest(Input):
    """Accept an approved match; staff may answer for a party that has no account."""

    model_config = ConfigDict(json_schema_extra={"examples": [{}, {"on_behalf_of": "mentor"}]})

    on_behalf_of: Party | None = None
    """Staff only: accept for this party (mentor or newcomer), who has no account; omit for yourself"""


class DeclineRequest(Input):
    """A party declines an approved match; staff may answer for a party that has no account."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"note": "今年家里忙，明年再说"}, {"on_behalf_of": "mentor"}]}
    )

    note: str | None = Field(default=None, max_length=1000)
    """Why, for the coordinator"""
    on_behalf_of: Party | None = None
    """Staff only: decline for this party (mentor or newcomer), who has no account; omit for yourself"""


class CancelRequest(Input):
    """End an active match early."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason_code": "party_withdrew", "note": "新农人改种粮食"}]}
    )

    reason_code: CancelReason
    """Why (GET /api/v1/vocabularies: cancel_reasons)"""
    note: str | None = Field(default=None, max_length=1000)
    """Free text for the audit log"""


class TransitionRead(Output):
    """One audit-log entry."""

    from_status: str | None
    """Status before (null for the proposal's creation)"""
    to_status: str
    """Status after"""
    actor_id: int | None
    """Account that made the change (null: the system)"""
    reason: str | None
    """Reason code or note"""
    at: datetime
    """When (UTC)"""


class CommitmentRead(Output):
    """A commitment of an active match and how it is going."""

    id: int
    """Commitment id"""
    match_id: int
    """Its match"""
    resource_type: str
    """Resource shared"""
    area: str
    """Area of collaboration"""
    description: str
    """What was promised"""
    cadence_days: int
    """Length of one period (days)"""
    next_due: date | None
    """End of the current period (China Standard Time)"""
    overdue: bool
    """The period has lapsed without a report"""
    done_count: int
    """Periods reported done"""
    partial_count: int
    """Periods reported partial"""
    missed_count: int
    """Periods missed (reported, or lapsed)"""

    @classmethod
    def of(cls, state: CommitmentState) -> CommitmentRead:
        """Map a commitment and whether its check-in is overdue."""
        c = state.commitment
        return cls(
            id=c.id,
            match_id=c.match_id,
            resource_type=c.resource_type,
            area=c.area,
            description=c.description,
            cadence_days=c.cadence_days,
            next_due=c.next_due,
            overdue=state.overdue,
            done_count=c.done_count,
            partial_count=c.partial_count,
            missed_count=c.missed_count,
        )


class CheckInCreate(Input):
    """A party reports on a commitment."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"outcome": "done", "note": "学会了用手机拍盆栽"}]}
    )

    outcome: CheckInOutcome
    """How this period went: done, partial or missed"""
    note: str = Field(default="", max_length=2000)
    """What was done"""
    evidence_url: str | None = Field(default=None, max_length=512, pattern=r"^https?://\S+$")
    """A link to a photo, a live-stream replay or a shop page"""
    on_behalf_of: Party | None = None
    """Staff (the match's reviewers) only: report for this party, who has no account"""


class CheckInRead(Output):
    """A stored check-in."""

    id: int
    """Check-in id"""
    commitment_id: int
    """Its commitment"""
    author_id: int
    """Account that reported (staff, for a party without one)"""
    party: str
    """mentor or newcomer: whose report it is"""
    period: int
    """Period number, from 0 at the commitment's start"""
    outcome: str
    """done, partial or missed"""
    note: str
    """What was done"""
    evidence_url: str | None
    """A link to evidence"""
    created_at: datetime
    """When reported (UTC)"""
