"""import_hash: the fast (orjson) path hashes exactly the text the stored hashes were made from."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.imports.write.upsert import import_hash


def _canonical(values: dict[str, object], products: list[str]) -> str:
    doc = json.dumps([values, products], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(doc.encode()).hexdigest()


_CELLS = (
    st.none()
    | st.booleans()
    | st.text(max_size=20)
    | st.integers(min_value=-(2**70), max_value=2**70)  # past 64 bits orjson refuses: json's text
    | st.floats()  # NaN, infinities, 1e-05 ... are spelt differently by orjson: json's text
    | st.lists(st.text(max_size=8), max_size=4)
    | st.lists(st.fixed_dictionaries({"type": st.text(max_size=8), "description": st.text(max_size=8)}))
)


@given(st.dictionaries(st.text(max_size=12), _CELLS, max_size=8), st.lists(st.text(max_size=12), max_size=3))
def test_import_hash_is_the_canonical_json_hash(values: dict[str, object], products: list[str]) -> None:
    assert import_hash(values, products) == _canonical(values, products)


@pytest.mark.parametrize(
    ("years", "digest"),
    [
        (2.5, "1172b245fc76b74b703b6be194b0de2628d51341312b8b79127f194e3839ebfa"),  # the orjson path
        (1e-05, "329a8705268dfa6c5e9f5c343631ac805dcd298401fb4308c8530f079284344b"),  # json's spelling
    ],
)
def test_a_known_row_keeps_its_stored_hash(years: float, digest: str) -> None:
    # Digests made by the json-only implementation: a stored hash that no longer matched would make
    # every re-import of an unchanged roster report its rows as "updated".
    values = {
        "name": "示范户1号",
        "sales_min": 50.0,
        "years_selling": years,
        "channels": ["taobao"],
        "x": None,
    }
    assert import_hash(values, ["fruit.apple"]) == digest
