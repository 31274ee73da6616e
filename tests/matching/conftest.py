"""Shared builders for matching tests: tiny hand-built populations and a small synthetic one."""

from __future__ import annotations

from typing import Any

import pytest

from matching import MentorTable, NewcomerTable
from matching.synthetic import SyntheticPopulation, generate_population

# Two provinces x two prefectures x two counties, so every separation level binds.
COUNTIES = ("350524", "350525", "350702", "350722", "530102", "530112", "532301", "532322")
PRODUCTS = ("tea.growing", "tea.processing", "tea.packaging_gifts", "fruit.citrus", "fruit.processed")


def mentor(mid: int, county: str, products: list[str], **kw: Any) -> dict[str, Any]:
    """A mentor record with sensible defaults."""
    rec: dict[str, Any] = {
        "id": mid,
        "county_code": county,
        "products": products,
        "channels": ["douyin"],
        "resources_offered": ["information", "logistics"],
        "languages": ["mandarin"],
        "capacity_left": 1,
        "fulfilment_rate": 0.8,
        "text": "",
    }
    rec.update(kw)
    return rec


def newcomer(nid: int, county: str, products: list[str], **kw: Any) -> dict[str, Any]:
    """A newcomer record with sensible defaults."""
    rec: dict[str, Any] = {
        "id": nid,
        "county_code": county,
        "products": products,
        "channels": ["douyin"],
        "resources_needed": ["logistics"],
        "languages": ["mandarin"],
        "text": "",
    }
    rec.update(kw)
    return rec


def tables(
    mentors: list[dict[str, Any]], newcomers: list[dict[str, Any]]
) -> tuple[MentorTable, NewcomerTable]:
    """Both tables from records."""
    return MentorTable.from_records(mentors), NewcomerTable.from_records(newcomers)


@pytest.fixture(scope="session")
def small_pop() -> SyntheticPopulation:
    """300 mentors x 1500 newcomers, with text."""
    return generate_population(300, 1500, seed=3)
