"""Product words that name a whole taxonomy group ("花卉", "水产品") rather than one leaf category.

A group word cannot become a stored product (profiles hold leaf categories), and guessing a leaf would
put a wrong product into matching. So the row gets a warning that names the group and lists its
categories; when no other product of the row maps, the row is rejected with the same explanation.
Words that ARE a leaf's name or synonym (茶叶, 水果, 中药材) keep mapping to that leaf.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Final

from matching.taxonomy import CATEGORIES, GROUPS

# Everyday words for a group beyond its own names, as township rosters write them.
_COMMON_WORDS: Final[dict[str, tuple[str, ...]]] = {
    "tea": ("茶产品", "茶类"),
    "fruit": ("果品", "时令水果", "生鲜水果"),
    "veg": ("果蔬", "蔬菜类", "菌类"),
    "grain": ("粮食", "粮油", "谷物", "五谷杂粮"),
    "livestock": ("畜禽", "畜牧", "畜产品", "家畜", "禽类"),
    "aquatic": ("水产", "水产品", "海产品"),
    "flowers": ("花卉", "花草", "花", "苗木花卉", "花卉苗木"),
    "herbs": ("中药", "中草药"),
    "nuts": ("干果", "坚果炒货"),
    "honey": ("蜂产品",),
    "food": ("食品", "特色食品", "土特产", "特产", "农副产品"),
    "crafts": ("手工艺", "工艺品", "手工艺品", "手工"),
    "apparel": ("纺织", "纺织品", "服装纺织"),
    "inputs": ("农资", "农业生产资料"),
    "tourism": ("旅游", "乡村游", "乡村旅游", "休闲农业"),
}


@dataclass(frozen=True, slots=True)
class ProductGroup:
    """A taxonomy group named by a product word, with its leaf categories for the message."""

    code: str
    name_zh: str
    name_en: str
    leaves_zh: tuple[str, ...]
    leaves_en: tuple[str, ...]


@cache
def _group_words() -> dict[str, ProductGroup]:
    leaf_words = {w.strip().lower() for c in CATEGORIES for w in (c.code, c.name_zh, c.name_en, *c.synonyms)}
    words: dict[str, ProductGroup] = {}
    for group in GROUPS:
        leaves = [c for c in CATEGORIES if c.parent == group.code]
        found = ProductGroup(
            group.code,
            group.name_zh,
            group.name_en,
            tuple(c.name_zh for c in leaves),
            tuple(c.name_en for c in leaves),
        )
        for word in (group.code, group.name_zh, group.name_en, *_COMMON_WORDS.get(group.code, ())):
            key = word.strip().lower()
            if key not in leaf_words:
                words.setdefault(key, found)
    return words


def product_group(word: str) -> ProductGroup | None:
    """The group a product word names, when it names a group and no leaf."""
    return _group_words().get(word.strip().lower())


def no_group(word: str) -> ProductGroup | None:
    """A group lookup that knows no groups (for taxonomies without them)."""
    return None
