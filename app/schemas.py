"""Pydantic building blocks shared by every domain's schemas."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

T = TypeVar("T")

PhoneStr = Annotated[str, StringConstraints(pattern=r"^1[3-9]\d{9}$")]
RegionCodeStr = Annotated[str, StringConstraints(pattern=r"^(\d{2}|\d{4}|\d{6}|\d{9}|\d{12})$")]
Password = Annotated[str, StringConstraints(min_length=8, max_length=128)]


class Input(BaseModel):
    """Base of every request body: unknown fields are an error, so no mass assignment slips in."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Output(BaseModel):
    """Base of every response body, built from ORM objects or dicts."""

    model_config = ConfigDict(from_attributes=True)


class Page(Output, Generic[T]):
    """One page of a cursor-paginated list; pass next_cursor back to get the following page."""

    items: list[T]
    next_cursor: str | None = Field(default=None, description="Opaque; absent on the last page")


# Database ids are 32-bit on both databases; larger path values are a 422, not an overflow.
MAX_ID = 2**31 - 1
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]


class Accepted(Output):
    """202 answer for work that runs in the background."""

    id: int
    status: str
    url: str
