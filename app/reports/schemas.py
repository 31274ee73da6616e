"""Bodies of reports."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import Field

from app.schemas import Output


class Definition(Output):
    """What a column or the range means, in both languages."""

    zh: str = Field(description="The definition in Chinese")
    en: str = Field(description="The definition in English")


class ReportRead(Output):
    """A report: the range, the scope, the column names, the aggregated rows and their definitions."""

    report: str = Field(description="The report's name, as in the catalogue", examples=["outcomes"])
    title_zh: str = Field(description="Its title in Chinese")
    title_en: str = Field(description="Its title in English")
    scope: str = Field(description="The region code the figures cover; empty for the whole country")
    date_from: date = Field(description="First day of the range (China Standard Time), inclusive")
    date_to: date = Field(description="Last day of the range, inclusive")
    by: str | None = Field(description="The grouping of the rows, or null for a report with one shape")
    columns: list[str] = Field(description="The keys of each row, in display order")
    rows: list[dict[str, Any]] = Field(description="The aggregated rows, one per group")
    definitions: list[Definition] = Field(description="What each column and the range mean")
    extra: dict[str, Any] = Field(
        default_factory=dict, description="Report-specific figures beside the rows, e.g. the flows matrix"
    )


class ReportInfo(Output):
    """One entry of the report catalogue."""

    report: str = Field(description="The report's name, for /api/v1/reports/{report}")
    groupings: list[str] = Field(description="Values its `by` parameter accepts; the first is the default")
