"""Region reference data: load, browse, search, resolve to a path."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.access.regions import under
from app.bulk import upsert_rows
from app.errors import NotFound, Unprocessable
from app.models import Region
from app.pagination import Paged, asc, paginate
from app.regions.source import iter_regions

_CHUNK = 2_000


def load_regions(session: Session, *, include_townships: bool = True) -> int:
    """Insert or refresh every division from the bundled sources; returns how many were written."""
    batch: list[dict[str, object]] = []
    count = 0
    for rec in iter_regions(include_townships=include_townships):
        batch.append(
            {
                "code": rec.code,
                "name": rec.name,
                "level": rec.level,
                "parent_code": rec.parent_code,
                "lat": rec.lat,
                "lon": rec.lon,
                "pinyin": rec.pinyin,
                "initials": rec.initials,
            }
        )
        if len(batch) >= _CHUNK:
            count += _flush(session, batch)
    count += _flush(session, batch)
    return count


def _flush(session: Session, batch: list[dict[str, object]]) -> int:
    n = len(batch)
    # Parents come before children in the source, so chunked upserts never break the foreign key.
    upsert_rows(
        session,
        Region.__table__,
        batch,
        key=["code"],
        update=["name", "level", "parent_code", "lat", "lon", "pinyin", "initials"],
    )
    batch.clear()
    return n


def require_known(session: Session, code: str) -> None:
    """422 region_not_found for a code no region has: a filter on it would only ever find nothing."""
    if session.get(Region, code) is None:
        raise Unprocessable(
            code="region_not_found", detail=(f"行政区划代码 {code} 不存在", f"no region {code}")
        )


def get_region(session: Session, code: str) -> Region:
    """One region or 404."""
    region = session.get(Region, code)
    if region is None:
        raise NotFound(code="region_not_found")
    return region


def region_path(session: Session, region: Region) -> list[Region]:
    """The region and its ancestors, province first."""
    codes = [region.code[:n] for n in (2, 4, 6, 9) if len(region.code) > n]
    ancestors = {r.code: r for r in session.scalars(select(Region).where(Region.code.in_(codes)))}
    return [ancestors[c] for c in codes if c in ancestors] + [region]


def list_children(session: Session, *, parent: str | None, cursor: str | None, limit: int) -> Paged[Region]:
    """Children of a code (provinces when no parent), in code order, one cursor page."""
    stmt = select(Region).where(
        Region.parent_code.is_(None) if parent is None else Region.parent_code == parent
    )
    return paginate(session, stmt, [asc(Region.code, str)], cursor, limit)


def search_regions(
    session: Session, *, q: str, level: str | None, within: str | None, limit: int
) -> list[Region]:
    """Match a Chinese name fragment, or a pinyin / initials prefix ("shuyang", "syx")."""
    q = q.strip()
    ascii_q = q.lower().replace(" ", "")
    conditions = [Region.name.contains(q, autoescape=True)]
    if ascii_q.isascii() and ascii_q.isalpha():
        conditions += [
            Region.pinyin.startswith(ascii_q, autoescape=True),
            Region.initials.startswith(ascii_q, autoescape=True),
        ]
    stmt = select(Region).where(or_(*conditions))
    if level:
        stmt = stmt.where(Region.level == level)
    if within:
        stmt = stmt.where(under(Region.code, within))
    # Coarser divisions first: someone typing 沭阳 most likely means the county, not a village.
    stmt = stmt.order_by(func.length(Region.code), Region.code).limit(limit)
    return list(session.scalars(stmt))


def names_of(session: Session, codes: set[str]) -> dict[str, str]:
    """Region names for a set of codes, in one query (unknown codes are left out)."""
    if not codes:
        return {}
    return dict(session.execute(select(Region.code, Region.name).where(Region.code.in_(codes))).all())


def region_label(session: Session, code: str) -> str:
    """Full name of a region: province, prefecture and county names joined (e.g. 江苏省宿迁市沭阳县)."""
    prefixes = [code[:n] for n in (2, 4, 6, 9, 12) if n <= len(code)]
    names = {
        c: n for c, n in session.execute(select(Region.code, Region.name).where(Region.code.in_(prefixes)))
    }
    return "".join(names[p] for p in prefixes if p in names) or code
