"""Whose model a caller sees and changes: re-rankers are trained per province, with a national fallback."""

from __future__ import annotations

from app.access.caller import Caller
from app.errors import Unprocessable
from app.models import ModelVersion

NATIONAL = ""
PROVINCE_DIGITS = 2


def model_jurisdiction(caller: Caller, requested: str | None = None) -> str:
    """The jurisdiction whose model the caller trains: an admin's choice (national by default), else the
    province of the coordinator's jurisdiction; 422 for another one."""
    if caller.is_admin:
        return requested if requested is not None else NATIONAL
    own = (caller.jurisdiction or "")[:PROVINCE_DIGITS]
    if len(own) < PROVINCE_DIGITS or (requested is not None and requested != own):
        raise Unprocessable(code="region_outside_jurisdiction")
    return own


def model_chain(region_code: str) -> list[str]:
    """Jurisdictions whose active model applies to a region, most specific first: province, national."""
    province = region_code[:PROVINCE_DIGITS]
    return [province, NATIONAL] if len(province) == PROVINCE_DIGITS else [NATIONAL]


def can_view_model(caller: Caller, version: ModelVersion) -> bool:
    """Admins see every version; a coordinator their province's and the national ones."""
    if caller.is_admin:
        return True
    own = (caller.jurisdiction or "")[:PROVINCE_DIGITS]
    return bool(own) and version.jurisdiction_code in (own, NATIONAL)


def can_manage_model(caller: Caller, version: ModelVersion) -> bool:
    """Promote or roll back: admins any version, a coordinator only their own province's."""
    if caller.is_admin:
        return True
    own = (caller.jurisdiction or "")[:PROVINCE_DIGITS]
    return bool(own) and version.jurisdiction_code == own
