"""Bodies of reports."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import Field

from app.schemas import Output


class Definition(Output):
    """What a column or the range means, in both languages."""

    zh: str
    en: str


class ReportRead(Output):
    """A report: the range, the scope, the column names, the aggregated rows and their definitions."""

    report: str
    title_zh: str
    title_en: str
    scope: str
    date_from: date
    date_to: date
    by: str | None
    columns: list[str]
    rows: list[dict[str, Any]]
    definitions: list[Definition]
    extra: dict[str, Any] = Field(default_factory=dict)


class ReportInfo(Output):
    """One entry of the report catalogue."""

    report: str
    groupings: list[str]
