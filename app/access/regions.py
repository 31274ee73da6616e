"""The region hierarchy as the rules use it: a code covers every code that starts with it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, false

# Statistical division codes: province, prefecture, county, township, village.
LEVEL_LENGTHS: tuple[int, ...] = (2, 4, 6, 9, 12)


def within(code: str | None, region: str | None) -> bool:
    """Whether `code` lies inside `region` (itself included); the empty region is the whole country."""
    if code is None or region is None:
        return False
    return code.startswith(region)


def under(column: Any, region: str) -> ColumnElement[bool]:
    """SQL form of `within`: the column's code lies inside `region` (`LIKE '32%'`).

    A pattern index (`varchar_pattern_ops` on PostgreSQL) serves it; a plain index does not, on
    either database: see `under_indexed`.
    """
    return column.startswith(region, autoescape=True)  # type: ignore[no-any-return]


def under_indexed(column: Any, region: str) -> ColumnElement[bool]:
    """`under` as a range of codes (`code >= '32' AND code < '33'`), which a plain index on the column serves.

    SQLite's LIKE ignores case and PostgreSQL's needs a pattern index (or the C collation), so neither
    can read a plain index for `LIKE '32%'`: a page of a province's profiles walked the whole table in id
    order. Region codes are digits, and among digit strings those starting with `region` are exactly
    the ones from `region` up to the next code of its length (`329` -> `33`), in any collation that
    orders digits as numbers. A prefix that is not all digits keeps the pattern form.
    """
    if not region.isdigit() or not region.isascii():
        return under(column, region)
    upper = _next_prefix(region)
    if upper is None:
        return column >= region  # type: ignore[no-any-return]
    return and_(column >= region, column < upper)


def _next_prefix(region: str) -> str | None:
    """The smallest digit string after every code that starts with `region` ("329" -> "33"; "99" -> None)."""
    stem = region.rstrip("9")
    if not stem:
        return None
    return stem[:-1] + str(int(stem[-1]) + 1)


def ancestors(code: str) -> list[str]:
    """The regions strictly above a code, the whole country ("") first."""
    return ["", *(code[:n] for n in LEVEL_LENGTHS if n < len(code))]


def nowhere() -> ColumnElement[bool]:
    """A predicate no row satisfies (a caller without a jurisdiction sees nothing)."""
    return false()
