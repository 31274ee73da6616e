"""Bodies of matching runs: the typed run parameters and a run's state."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field

from app.schemas import Input, Output, RegionCodeStr


class RunCreate(Input):
    """The parameters of a matching run over (part of) the caller's jurisdiction.

    Stored as the run's `policy` and read back by the job; `app.matches.adapter.policy_of` turns it into
    the model's `matching.Policy`.
    """

    scope_code: RegionCodeStr | None = Field(
        default=None,
        description="Region whose newcomers are matched; omit for the whole country (admin only)",
    )
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"scope_code": "32", "separation": "county", "k": 10},
                {"scope_code": "3213", "pairing": "mixed", "chain_share": 0.4, "use_learned_ranker": True},
            ]
        }
    )

    separation: Literal["county", "prefecture", "province"] = "county"
    """The pair must differ at this level at least (never the same county)"""
    max_distance_km: float | None = Field(default=None, gt=0, le=5000)
    """Leave out pairs farther apart than this"""
    k: int = Field(default=10, ge=1, le=50)
    """Candidates retrieved per newcomer before assignment"""
    use_learned_ranker: bool = Field(
        default=False, description="Re-rank with the active model of the scope's province (else national)"
    )
    model_version_id: int | None = Field(default=None, description="Pin this model version")
    same_product_same_prefecture: Literal["penalise", "exclude"] = "penalise"
    """Copying the mentor's own product next door: lower its score, or never propose it"""
    pairing: Literal["any", "same_trade", "chain", "mixed"] = Field(
        default="any", description="Product relation: by score, same trade, chain links, or mixed"
    )
    chain_share: float = Field(default=0.5, ge=0, le=1, description="Chain pair share, mixed mode")
    exploration: float = Field(
        default=0.05, ge=0, le=0.5, description="Share of proposals drawn outside the top choice, flagged"
    )

    @classmethod
    def from_policy(cls, policy: dict[str, Any]) -> RunCreate:
        """Read back a stored policy (the whole country is stored as the empty scope)."""
        return cls.model_validate({**policy, "scope_code": policy.get("scope_code") or None})


class RunRead(Output):
    """A matching run: parameters, progress, results."""

    id: int
    """Run id"""
    scope_code: str
    """Region whose newcomers were matched (empty: the whole country)"""
    policy: dict[str, object]
    """The run's parameters as given (RunCreate)"""
    status: str
    """queued, running, done, failed or cancelled; an attempt that failed and will be retried leaves it
    queued"""
    progress: float
    """0 to 1 within an attempt (a retried run starts again from 0)"""
    model_version_id: int | None
    """The learned ranker version used; null: the default scorer"""
    counts: dict[str, object]
    """mentors and newcomers considered, proposals made, earlier proposals superseded, pairs excluded"""
    evaluation: dict[str, object]
    """Coverage, mean score, cross-region shares, diversity, capacity use and the equity ratio (null
    where a figure has no denominator, such as coverage over a scope without newcomers)"""
    error_detail: str | None
    """Why it failed, or, while queued again, why its last attempt failed; who cancelled it"""
    created_at: datetime
    """When requested (UTC)"""
    started_at: datetime | None
    """When a worker started it"""
    finished_at: datetime | None
    """When it ended"""
