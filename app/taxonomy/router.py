"""The product taxonomy and the closed vocabularies, for pickers in the mobile app."""

from __future__ import annotations

from typing import get_args

from fastapi import APIRouter

from app.deps import AnyUser, SessionDep
from app.matches.schemas import CancelReason
from app.openapi import problems
from app.proposals.schemas import RejectReason
from app.schemas import Output
from app.taxonomy import service
from app.taxonomy.service import CategoryNode
from matching import vocab

router = APIRouter(prefix="/api/v1", tags=["taxonomy"])


class CategoryRead(Output):
    """A product category; leaves (level 2) are what profiles refer to."""

    code: str
    """Stable code: a group (flowers) or a leaf (flowers.seedlings)"""
    parent_code: str | None
    """The group of a leaf; null for a group"""
    level: int
    """1: group, 2: leaf (profiles name leaves)"""
    name_zh: str
    """Chinese name"""
    name_en: str
    """English name"""
    upstream: list[str]
    """Leaf codes one link up the industrial chain (what it is made from)"""
    downstream: list[str]
    """Leaf codes one link down the chain (what it goes into)"""

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
    """The code sent in bodies and filters"""
    name_zh: str
    """Chinese label"""
    name_en: str
    """English label"""


@router.get("/categories", response_model=list[CategoryRead], responses=problems(401))
def list_categories(caller: AnyUser, session: SessionDep) -> list[CategoryRead]:
    """Every category with its industrial-chain neighbours."""
    return [CategoryRead.of(node) for node in service.list_categories(session)]


# Labels of the reason codes a reviewer or a party picks (the codes themselves are the schemas' Literals).
REASON_LABELS: dict[str, tuple[str, str]] = {
    "not_complementary": ("产品不互补", "products are not complementary"),
    "too_far": ("距离太远", "too far apart"),
    "same_market": ("同一市场，存在竞争", "same market: they would compete"),
    "mentor_unsuitable": ("带头人不合适", "mentor unsuitable"),
    "newcomer_not_ready": ("新农人尚未准备好", "newcomer not ready"),
    "duplicate": ("重复的推荐", "duplicate proposal"),
    "party_withdrew": ("一方退出", "a party withdrew"),
    "commitments_unmet": ("承诺未履行", "commitments not met"),
    "mutual_agreement": ("双方协商结束", "ended by mutual agreement"),
    "other": ("其他", "other"),
}


def _reasons(codes: tuple[str, ...]) -> dict[str, tuple[str, str]]:
    return {code: REASON_LABELS[code] for code in codes}


@router.get("/vocabularies", response_model=dict[str, list[VocabularyItem]], responses=problems(401))
def list_vocabularies(caller: AnyUser) -> dict[str, list[VocabularyItem]]:
    """Resource types, collaboration areas, channels, languages, mentor kinds and reason codes.

    `reject_reasons` are the `reason_code` values of POST /api/v1/proposals/{id}/reject;
    `cancel_reasons` those of POST /api/v1/matches/{id}/cancel.
    """
    sources = {
        "resource_types": vocab.RESOURCE_LABELS,
        "areas": vocab.AREA_LABELS,
        "channels": vocab.CHANNEL_LABELS,
        "languages": vocab.LANGUAGE_LABELS,
        "mentor_kinds": vocab.MENTOR_KIND_LABELS,
        "reject_reasons": _reasons(get_args(RejectReason)),
        "cancel_reasons": _reasons(get_args(CancelReason)),
    }
    return {
        name: [VocabularyItem(code=k, name_zh=zh, name_en=en) for k, (zh, en) in labels.items()]
        for name, labels in sources.items()
    }
