"""Bodies of honours and of the public verification."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import ConfigDict, Field

from app.schemas import Input, Output, RegionCodeStr


class EvaluateRequest(Input):
    """Apply the honour rules to a period inside your jurisdiction."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"period_start": "2025-07-01", "period_end": "2026-06-30"}]}
    )

    period_start: date
    """First day of the period judged"""
    period_end: date
    """Last day of the period judged"""
    region: RegionCodeStr | None = Field(default=None, description="Defaults to your jurisdiction")


class HonourRead(Output):
    """An honour as staff and its mentor see it."""

    id: int
    """Honour id"""
    mentor_id: int
    """The mentor honoured"""
    rule_code: str
    """The rule it was earned under"""
    title_zh: str
    """The title, in Chinese"""
    title_en: str
    """The title, in English"""
    rules_version: str
    """Version of the rules applied"""
    jurisdiction_code: str
    """Who awards it (region of the coordinator)"""
    period_start: date
    """First day of the period judged"""
    period_end: date
    """Last day of the period judged"""
    evidence: dict[str, Any]
    """The figures that earned it"""
    status: str
    """proposed, confirmed or revoked"""
    verification_code: str | None
    """Public code on the certificate (confirmed only)"""
    confirmed_on: date | None
    """When confirmed"""


class VerificationRead(Output):
    """What a public verification shows: the name, the honour and the date, nothing else."""

    name: str
    """The mentor's name"""
    honour_zh: str
    """The honour, in Chinese"""
    honour_en: str
    """The honour, in English"""
    confirmed_on: date
    """When confirmed"""


class RuleRead(Output):
    """One honour rule of the current version."""

    code: str
    """Rule code"""
    title_zh: str
    """Title awarded, in Chinese"""
    title_en: str
    """Title awarded, in English"""
    metric: str
    """What is measured"""
    threshold: float
    """Minimum value of the metric"""
    support: str | None
    """What the minimum support counts"""
    min_support: int
    """Least support for the rule to apply"""
    rules_version: str
    """Version of the rules"""
