"""Bodies of matching runs: the typed run parameters and a run's state."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

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
    separation: Literal["county", "prefecture", "province"] = "county"
    max_distance_km: float | None = Field(default=None, gt=0, le=5000)
    k: int = Field(default=10, ge=1, le=50)
    use_learned_ranker: bool = False
    same_product_same_prefecture: Literal["penalise", "exclude"] = "penalise"

    @classmethod
    def from_policy(cls, policy: dict[str, Any]) -> RunCreate:
        """Read back a stored policy (the whole country is stored as the empty scope)."""
        return cls.model_validate({**policy, "scope_code": policy.get("scope_code") or None})


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
