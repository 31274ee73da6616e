"""Load the product taxonomy (defined in matching.taxonomy) into its reference tables."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.bulk import upsert_rows
from app.models import Category, CategoryLink
from matching import taxonomy


@dataclass(frozen=True, slots=True)
class CategoryNode:
    """A category with its neighbours one link up and down the industrial chain."""

    category: Category
    upstream: list[str]
    downstream: list[str]


def list_categories(session: Session) -> list[CategoryNode]:
    """Every category, groups first, with its chain links (two queries)."""
    links = session.execute(select(CategoryLink.upstream_code, CategoryLink.downstream_code)).all()
    up: dict[str, list[str]] = {}
    down: dict[str, list[str]] = {}
    for u, d in links:
        down.setdefault(u, []).append(d)
        up.setdefault(d, []).append(u)
    return [
        CategoryNode(c, sorted(up.get(c.code, [])), sorted(down.get(c.code, [])))
        for c in session.scalars(select(Category).order_by(Category.level, Category.code))
    ]


def load_taxonomy(session: Session) -> int:
    """Insert or refresh groups, leaves and chain links; returns the number of categories."""
    groups = [
        {"code": g.code, "parent_code": None, "level": 1, "name_zh": g.name_zh, "name_en": g.name_en}
        for g in taxonomy.GROUPS
    ]
    leaves = [
        {"code": c.code, "parent_code": c.parent, "level": 2, "name_zh": c.name_zh, "name_en": c.name_en}
        for c in taxonomy.CATEGORIES
    ]
    cols = ["parent_code", "level", "name_zh", "name_en"]
    upsert_rows(session, Category.__table__, groups, key=["code"], update=cols)
    upsert_rows(session, Category.__table__, leaves, key=["code"], update=cols)
    links = [{"upstream_code": u, "downstream_code": d} for u, d in taxonomy.CHAIN_LINKS]
    upsert_rows(session, CategoryLink.__table__, links, key=["upstream_code", "downstream_code"])
    return len(groups) + len(leaves)


def categories_at(session: Session, *, level: int) -> list[Category]:
    """Categories of one level (1: groups, 2: leaves), in code order."""
    return list(session.scalars(select(Category).where(Category.level == level).order_by(Category.code)))


def category_names(session: Session, codes: set[str]) -> dict[str, tuple[str, str]]:
    """(zh, en) names of the given category codes, in one query."""
    if not codes:
        return {}
    rows = session.execute(
        select(Category.code, Category.name_zh, Category.name_en).where(Category.code.in_(codes))
    )
    return {code: (zh, en) for code, zh, en in rows}
