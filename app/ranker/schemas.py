"""Bodies of the learned re-ranker's versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ConfigDict

from app.schemas import Input, Output


class ModelRead(Output):
    """A trained re-ranker version: what it uses, what it learned, how it measured, the gate's verdict."""

    id: int
    """Version id"""
    version: str
    """Version label"""
    jurisdiction_code: str
    """Province it belongs to; empty for the national model"""
    status: str
    """active, candidate or retired"""
    kind: str
    """The model family that won the selection (boosted trees or logistic)"""
    features: list[str]
    """Features it reads"""
    importances: dict[str, float]
    """Feature -> importance"""
    learned: dict[str, list[str]]
    """Sentences on what it learned, per language (zh, en)"""
    metrics: dict[str, Any]
    """AUCs and the selection's reasons (chosen, why)"""
    gate: dict[str, Any]
    """The promotion gate's verdict and reasons"""
    n_samples: int
    """Decisions it was trained on"""
    trained_at: datetime
    """When trained (UTC)"""
    promoted_at: datetime | None
    """When it became active, if it did"""


class RollbackRequest(Input):
    """Which jurisdiction to roll back: omit for your own (admins: the national model)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{}, {"jurisdiction_code": "32"}]})

    jurisdiction_code: str | None = None
    """A province code, or "" for the national model; omit for your own"""


class RollbackResult(Output):
    """The version active after a rollback (null: the default scorer or the national fallback)."""

    active: ModelRead | None
    """The version active now; null: the default scorer or the national fallback"""
