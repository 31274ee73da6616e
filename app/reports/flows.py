"""Where the pairs go: newcomer-to-mentor flows between provinces, and match rate by penetration quintile."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, exists, func, select
from sqlalchemy.orm import Session

from app.access import Caller
from app.access.matches import review_scope
from app.models import Match, Newcomer, Region

# A pair counts once a coordinator has approved it, whatever happened next except a refusal.
PAIRED = ("approved", "active", "completed")


@dataclass(frozen=True, slots=True)
class Province:
    """A province with its centre (the mean of its counties' coordinates)."""

    code: str
    name: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class QuintileRate:
    """Newcomers of counties in one penetration quintile (1 = least served) and how many are paired."""

    quintile: int
    newcomers: int
    matched: int

    @property
    def rate(self) -> float:
        """Share of these newcomers with a mentor."""
        return self.matched / self.newcomers if self.newcomers else 0.0


def province_flows(session: Session, caller: Caller) -> dict[tuple[str, str], int]:
    """Pairs by (newcomer's province, mentor's province), for newcomers in the caller's jurisdiction."""
    src, dst = func.substr(Match.newcomer_county_code, 1, 2), func.substr(Match.mentor_county_code, 1, 2)
    rows = session.execute(
        select(src, dst, func.count())
        .where(Match.status.in_(PAIRED), review_scope(caller))
        .group_by(src, dst)
    ).all()
    return {(str(a), str(b)): int(n) for a, b, n in rows}


def provinces(session: Session) -> dict[str, Province]:
    """Every province with its name and centre (the map's backdrop and the flows' end points)."""
    prov = func.substr(Region.code, 1, 2)
    centres = session.execute(
        select(prov, func.avg(Region.lat), func.avg(Region.lon))
        .where(Region.level == "county", Region.lat.is_not(None))
        .group_by(prov)
    ).all()
    names = dict(session.execute(select(Region.code, Region.name).where(Region.level == "province")).all())
    return {
        str(code): Province(str(code), names.get(code, code), float(lat), float(lon))
        for code, lat, lon in centres
    }


def match_rate_by_quintile(session: Session, caller: Caller) -> list[QuintileRate]:
    """Newcomers and paired newcomers by their county's e-commerce penetration quintile (nationwide cuts)."""
    tiers = (
        select(Region.code.label("county"), func.ntile(5).over(order_by=Region.penetration).label("quintile"))
        .where(Region.level == "county", Region.penetration.is_not(None))
        .subquery()
    )
    paired = exists().where(Match.newcomer_id == Newcomer.id, Match.status.in_(PAIRED))
    rows = session.execute(
        select(tiers.c.quintile, func.count(Newcomer.id), func.sum(case((paired, 1), else_=0)))
        .join(tiers, tiers.c.county == Newcomer.county_code)
        .where(Newcomer.is_active.is_(True), caller.scope(Newcomer.region_code))
        .group_by(tiers.c.quintile)
        .order_by(tiers.c.quintile)
    ).all()
    return [QuintileRate(int(q), int(n), int(m or 0)) for q, n, m in rows]
