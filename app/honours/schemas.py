"""Bodies of honours and of the public verification."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import ConfigDict, Field

from app.schemas import Input, Output, RegionCodeStr


class EvaluateRequest(Input):
    """Apply the honour rules to a period inside your jurisdiction."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"period_start": "2026-01-01", "period_end": "2026-12-31"}]}
    )

    period_start: date
    """First day of the period judged"""
    period_end: date
    """Last day of the period judged"""
    region: RegionCodeStr | None = Field(default=None, description="Defaults to your jurisdiction")


class HonourRead(Output):
    """An honour as staff and its mentor see it."""

    id: int
    mentor_id: int
    rule_code: str
    title_zh: str
    title_en: str
    rules_version: str
    jurisdiction_code: str
    period_start: date
    period_end: date
    evidence: dict[str, Any]
    status: str
    verification_code: str | None
    confirmed_on: date | None


class VerificationRead(Output):
    """What a public verification shows: the name, the honour and the date, nothing else."""

    name: str
    honour_zh: str
    honour_en: str
    confirmed_on: date


class RuleRead(Output):
    """One honour rule of the current version."""

    code: str
    title_zh: str
    title_en: str
    metric: str
    threshold: float
    support: str | None
    min_support: int
    rules_version: str
