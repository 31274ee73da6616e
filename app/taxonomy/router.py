"""The product taxonomy and the closed vocabularies, for pickers in the mobile app."""

from __future__ import annotations

from fastapi import APIRouter

from app.deps import AnyUser, SessionDep
from app.openapi import problems
from app.schemas import Output
from app.taxonomy import service
from app.taxonomy.service import CategoryNode
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

    @classmethod
    def of(cls, node: CategoryNode) -> CategoryRead:
        """Map a category and its chain links."""
        c = node.category
        return cls(
            code=c.code,
            parent_code=c.parent_code,
            level=c.level,
            name_zh=c.name_zh,
            name_en=c.name_en,
            upstream=node.upstream,
            downstream=node.downstream,
        )


class VocabularyItem(Output):
    """One code of a closed vocabulary with its labels."""

    code: str
    name_zh: str
    name_en: str


@router.get("/categories", response_model=list[CategoryRead], responses=problems(401))
def list_categories(caller: AnyUser, session: SessionDep) -> list[CategoryRead]:
    """Every category with its industrial-chain neighbours."""
    return [CategoryRead.of(node) for node in service.list_categories(session)]


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
