"""The product taxonomy and the closed vocabularies, for pickers in the mobile app."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from app.deps import AnyUser, SessionDep
from app.models import Category, CategoryLink
from app.openapi import problems
from app.schemas import Output
from matching import vocab

router = APIRouter(prefix="/api/v1", tags=["taxonomy"])


class CategoryRead(Output):
    """A product category; leaves (level 2) are what profiles refer to."""

    code: str
    parent_code: str | None
    level: int
    name_zh: str
    name_en: str
    upstream: list[str]
    downstream: list[str]


class VocabularyItem(Output):
    """One code of a closed vocabulary with its labels."""

    code: str
    name_zh: str
    name_en: str


@router.get("/categories", response_model=list[CategoryRead], responses=problems(401))
def list_categories(caller: AnyUser, session: SessionDep) -> list[CategoryRead]:
    """Every category with its industrial-chain neighbours."""
    links = session.execute(select(CategoryLink.upstream_code, CategoryLink.downstream_code)).all()
    up: dict[str, list[str]] = {}
    down: dict[str, list[str]] = {}
    for u, d in links:
        down.setdefault(u, []).append(d)
        up.setdefault(d, []).append(u)
    return [
        CategoryRead(
            code=c.code,
            parent_code=c.parent_code,
            level=c.level,
            name_zh=c.name_zh,
            name_en=c.name_en,
            upstream=sorted(up.get(c.code, [])),
            downstream=sorted(down.get(c.code, [])),
        )
        for c in session.scalars(select(Category).order_by(Category.level, Category.code))
    ]


@router.get("/vocabularies", response_model=dict[str, list[VocabularyItem]], responses=problems(401))
def list_vocabularies(caller: AnyUser) -> dict[str, list[VocabularyItem]]:
    """Resource types, collaboration areas, channels, languages and mentor kinds."""
    sources = {
        "resource_types": vocab.RESOURCE_LABELS,
        "areas": vocab.AREA_LABELS,
        "channels": vocab.CHANNEL_LABELS,
        "languages": vocab.LANGUAGE_LABELS,
        "mentor_kinds": vocab.MENTOR_KIND_LABELS,
    }
    return {
        name: [VocabularyItem(code=k, name_zh=zh, name_en=en) for k, (zh, en) in labels.items()]
        for name, labels in sources.items()
    }
