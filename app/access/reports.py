"""Which region a report or an honour evaluation covers for a caller."""

from __future__ import annotations

from app.access.caller import Caller
from app.errors import NotFound


def report_region(caller: Caller, region: str | None) -> str:
    """The region asked for if the caller covers it (404 otherwise), else the caller's whole jurisdiction.

    The empty string is the whole country, which only an admin covers. Staff without a jurisdiction get
    a prefix no region code has, so they see nothing.
    """
    if region is not None:
        if not caller.covers(region):
            raise NotFound(detail=("该地区不在您的管辖范围内", "that region is outside your jurisdiction"))
        return region
    if caller.is_admin:
        return ""
    return caller.jurisdiction or "\x00"
