"""The region hierarchy as the rules use it: a code covers every code that starts with it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false

# Statistical division codes: province, prefecture, county, township, village.
LEVEL_LENGTHS: tuple[int, ...] = (2, 4, 6, 9, 12)


def within(code: str | None, region: str | None) -> bool:
    """Whether `code` lies inside `region` (itself included); the empty region is the whole country."""
    if code is None or region is None:
        return False
    return code.startswith(region)


def under(column: Any, region: str) -> ColumnElement[bool]:
    """SQL form of `within`: the column's code lies inside `region`."""
    return column.startswith(region, autoescape=True)  # type: ignore[no-any-return]


def ancestors(code: str) -> list[str]:
    """The regions strictly above a code, the whole country ("") first."""
    return ["", *(code[:n] for n in LEVEL_LENGTHS if n < len(code))]


def nowhere() -> ColumnElement[bool]:
    """A predicate no row satisfies (a caller without a jurisdiction sees nothing)."""
    return false()
