"""Bodies of the learned re-ranker's versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ConfigDict

from app.schemas import Input, Output


class ModelRead(Output):
    """A trained re-ranker version: what it uses, what it learned, how it measured, the gate's verdict."""

    id: int
    version: str
    jurisdiction_code: str
    status: str
    kind: str
    features: list[str]
    importances: dict[str, float]
    learned: dict[str, list[str]]
    metrics: dict[str, Any]
    gate: dict[str, Any]
    n_samples: int
    trained_at: datetime
    promoted_at: datetime | None


class RollbackRequest(Input):
    """Which jurisdiction to roll back: omit for your own (admins: the national model)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{}, {"jurisdiction_code": "32"}]})

    jurisdiction_code: str | None = None
    """A province code, or "" for the national model; omit for your own"""


class RollbackResult(Output):
    """The version active after a rollback (null: the default scorer or the national fallback)."""

    active: ModelRead | None
