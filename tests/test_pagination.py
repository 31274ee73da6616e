"""`Paged.rows_by_id`: the wide rows of a page read as its keys first, in the page's own order."""

from __future__ import annotations

from collections import namedtuple

from hypothesis import given
from hypothesis import strategies as st

from app.pagination import Paged

Key = namedtuple("Key", "id")
Wide = namedtuple("Wide", "id name")


@given(st.lists(st.integers(1, 10**6), unique=True, max_size=60), st.randoms(use_true_random=False))
def test_rows_come_back_in_the_pages_order_with_its_cursor(ids, rnd):
    rows = [Wide(i, f"n{i}") for i in ids]
    rnd.shuffle(rows)  # a statement by id returns its rows in any order
    page = Paged([Key(i) for i in ids], "next").rows_by_id(rows)
    assert page == Paged([Wide(i, f"n{i}") for i in ids], "next")


def test_a_row_gone_between_the_two_statements_is_left_out():
    page = Paged([Key(3), Key(1), Key(2)], None).rows_by_id([Wide(2, "b"), Wide(3, "c")])
    assert page.items == [Wide(3, "c"), Wide(2, "b")] and page.next_cursor is None
