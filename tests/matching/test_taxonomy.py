"""The product taxonomy as data, product lookup and the compatibility matrix."""

import numpy as np
import pytest

from matching import taxonomy


def test_sizes_and_codes() -> None:
    assert 12 <= len(taxonomy.GROUPS) <= 16
    assert 50 <= len(taxonomy.CATEGORIES) <= 80
    codes = [c.code for c in taxonomy.CATEGORIES]
    assert len(set(codes)) == len(codes)
    groups = {g.code for g in taxonomy.GROUPS}
    for c in taxonomy.CATEGORIES:
        assert c.code.isascii() and c.parent in groups and c.code.startswith(c.parent + ".")
        assert c.name_zh and c.name_en and c.synonyms
    assert taxonomy.category_index()["tea.growing"] == 0


def test_synonyms_are_unambiguous() -> None:
    seen: dict[str, str] = {}
    for c in taxonomy.CATEGORIES:
        for word in (c.name_zh, c.name_en, *c.synonyms):
            assert seen.setdefault(word.lower(), c.code) == c.code, word


def test_chain_links_are_valid_and_acyclic_pairs() -> None:
    index = taxonomy.category_index()
    for up, down in taxonomy.CHAIN_LINKS:
        assert up in index and down in index and up != down
        assert (down, up) not in taxonomy.CHAIN_LINKS
    assert ("tea.growing", "tea.processing") in taxonomy.CHAIN_LINKS
    assert ("flowers.seedlings", "flowers.pots_miniascape") in taxonomy.CHAIN_LINKS


@pytest.mark.parametrize(
    ("word", "code"),
    [
        ("红茶", "tea.processing"),
        ("Tea", "tea.growing"),
        ("猕猴桃", "fruit.kiwi"),
        ("普洱", "tea.processing"),
        ("赣南脐橙", "fruit.citrus"),
        ("我家榨山茶油", "grain.oil"),
        (" 盆景 ", "flowers.pots_miniascape"),
        ("小龙虾", "aquatic.freshwater"),
        ("tea.processing", "tea.processing"),
        ("steak", None),
        ("", None),
    ],
)
def test_lookup_product(word: str, code: str | None) -> None:
    assert taxonomy.lookup_product(word) == code


def test_compatibility_matrix_scores_chain_links_in_both_directions() -> None:
    idx = taxonomy.category_index()
    m = taxonomy.compatibility_matrix()
    assert m.shape == (len(taxonomy.CATEGORIES),) * 2 and m.dtype == np.float32
    grow, proc, kiwi = idx["tea.growing"], idx["tea.processing"], idx["fruit.kiwi"]
    assert m[grow, proc] == m[proc, grow] == 1.0
    assert m[grow, grow] == pytest.approx(0.85)
    assert m[grow, kiwi] == 0.0
    assert m[idx["tea.ware"], idx["tea.growing"]] == pytest.approx(0.3)  # same group only
