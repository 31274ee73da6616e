"""The region rule's SQL forms select exactly the codes `within` accepts, on the test database."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.access.regions import under, under_indexed, within
from app.models import Region

# Every region loaded as reference data, and prefixes at each level, at digit boundaries (9s carry).
PREFIXES = ["32", "3213", "321322", "321322115", "37", "53", "3", "39", "329", "99", "9", "19", "3299"]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_the_range_and_the_pattern_select_what_within_accepts(prefix, db):
    codes = list(db.scalars(select(Region.code)))
    expected = sorted(c for c in codes if within(c, prefix))
    by_range = sorted(db.scalars(select(Region.code).where(under_indexed(Region.code, prefix))))
    by_pattern = sorted(db.scalars(select(Region.code).where(under(Region.code, prefix))))
    assert by_range == by_pattern == expected


def test_there_is_something_to_select(db):
    # The comparisons above would hold trivially over an empty table.
    codes = set(db.scalars(select(Region.code)))
    assert {"32", "3213", "321322", "37", "53"} <= codes


def test_a_prefix_that_is_not_digits_keeps_the_pattern(db):
    # Not a region code: no range is derived from it, and it matches nothing, as `within` says.
    assert list(db.scalars(select(Region.code).where(under_indexed(Region.code, "3_%")))) == []


def test_the_range_is_the_plan_for_a_jurisdictions_profiles(db):
    # A range of codes, not a LIKE: what lets an index on the column find a jurisdiction's rows.
    sql = str(under_indexed(Region.code, "329").compile(compile_kwargs={"literal_binds": True}))
    assert sql == "regions.code >= '329' AND regions.code < '33'"
    assert str(under_indexed(Region.code, "99").compile(compile_kwargs={"literal_binds": True})) == (
        "regions.code >= '99'"
    )
