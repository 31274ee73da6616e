"""Where each province lies: the backdrop of the flows map (its figures come from the flows report)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Region
from app.reports.common import province_names, province_of


@dataclass(frozen=True, slots=True)
class Province:
    """A province with its centre (the mean of its counties' coordinates)."""

    code: str
    name: str
    lat: float
    lon: float


def province_centres(session: Session) -> dict[str, Province]:
    """Every province with its name and centre, by its 2-digit code."""
    prov = province_of(Region.code)
    centres = session.execute(
        select(prov, func.avg(Region.lat), func.avg(Region.lon))
        .where(Region.level == "county", Region.lat.is_not(None))
        .group_by(prov)
    ).all()
    names = province_names()
    named = dict(session.execute(select(names.c.code, names.c.name)).all())
    return {
        str(code): Province(str(code), named.get(code, code), float(lat), float(lon))
        for code, lat, lon in centres
    }
