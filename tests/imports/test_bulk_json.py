"""The JSON text that bulk inserts COPY into JSON columns: remembered or not, the same as json.dumps."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from app.bulk import _json_cell

_VALUES = (
    st.none()
    | st.lists(st.text(max_size=40), max_size=10)
    | st.lists(st.dictionaries(st.text(max_size=5), st.text(max_size=5)), max_size=3)
)


@given(_VALUES)
def test_json_cell_is_json_dumps(value: object) -> None:
    for _ in range(2):  # the second answer may come from the memo
        assert _json_cell(value) == json.dumps(value, ensure_ascii=False)
