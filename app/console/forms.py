"""Console form and filter models: HTML forms send empty strings for blank fields; these read them as None.

Validation itself is the API's: the bodies are the API's request schemas, built from the parsed fields.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.schemas import RegionCodeStr


class _Blankable(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if value == "" else value


class PageFilter(_Blankable):
    """A plain list's page: the cursor of the page after the first."""

    cursor: str | None = Field(default=None, max_length=512)


class QueueFilter(_Blankable):
    """The review queue's filters, as query parameters."""

    county: RegionCodeStr | None = None
    category: str | None = Field(default=None, max_length=64, pattern=r"^[a-z_]+(\.[a-z_]+)?$")
    min_score: float | None = Field(default=None, ge=0, le=1)
    max_distance: float | None = Field(default=None, gt=0, le=5000)
    run: int | None = Field(default=None, ge=1, le=2**31 - 1)
    cursor: str | None = Field(default=None, max_length=512)


class MatchFilter(_Blankable):
    """The matches list's filters."""

    status: Literal["approved", "active", "completed", "cancelled", "declined", "rejected"] = "active"
    overdue: bool = False
    cursor: str | None = Field(default=None, max_length=512)


class RosterFilter(_Blankable):
    """The township roster's search."""

    q: str | None = Field(default=None, min_length=1, max_length=64)
    cursor: str | None = Field(default=None, max_length=512)


class ReportFilter(_Blankable):
    """A report page's form: the range (the service fills in the default), grouping, a region inside."""

    date_from: date | None = None
    date_to: date | None = None
    by: str | None = Field(default=None, max_length=16, pattern=r"^[a-z]+$")
    region: RegionCodeStr | None = None


class ReportDownload(ReportFilter):
    """The same form, asking for a file."""

    format: Literal["xlsx", "csv"] = "xlsx"


class HonourFilter(_Blankable):
    """The honours list's filter."""

    status: Literal["proposed", "confirmed", "revoked"] | None = None
    cursor: str | None = Field(default=None, max_length=512)
    # What the previous action did (after its redirect): shown as a notice.
    done: Literal["confirmed", "revoked", "evaluated"] | None = None
    done_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    proposed: int | None = Field(default=None, ge=0, le=100_000)
