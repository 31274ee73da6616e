"""Region bodies."""

from __future__ import annotations

from app.schemas import Output


class RegionRead(Output):
    """One administrative division."""

    code: str
    name: str
    level: str
    parent_code: str | None
    lat: float | None
    lon: float | None
    pinyin: str


class RegionDetail(RegionRead):
    """A division with its full path, province first, ending with itself."""

    path: list[RegionRead]
    full_name: str
