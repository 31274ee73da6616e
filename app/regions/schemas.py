"""Region bodies."""

from __future__ import annotations

from app.schemas import Output


class RegionRead(Output):
    """One administrative division."""

    code: str
    """Statistical division code: 2 (province), 4, 6 (county), 9 (township) or 12 digits"""
    name: str
    """Official Chinese name"""
    level: str
    """province, prefecture, county or township"""
    parent_code: str | None
    """The division above; null for a province"""
    lat: float | None
    """Latitude of a representative point (townships: their county's)"""
    lon: float | None
    """Longitude of a representative point"""
    pinyin: str
    """Name in pinyin, for search"""


class RegionDetail(RegionRead):
    """A division with its full path, province first, ending with itself."""

    path: list[RegionRead]
    """Province first, ending with this division"""
    full_name: str
    """The path's names joined, e.g. 江苏省宿迁市沭阳县扎下镇"""
