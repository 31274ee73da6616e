"""Aggregates whose SQL differs between PostgreSQL and SQLite: the one place that dialect branch lives."""

from __future__ import annotations

from sqlalchemy import CTE, ColumnElement, Select, Subquery, func, select
from sqlalchemy.orm import Session


def grouped_median(
    session: Session, source: Subquery | CTE, key: str, value: str
) -> Select[tuple[object, float]]:
    """SELECT key, median(value) FROM source GROUP BY key, computed in the database on either dialect.

    PostgreSQL has percentile_cont; SQLite has none, so rows are ranked with window functions and the
    middle one (or the mean of the middle two) is kept. Rows whose value is NULL are ignored.
    """
    k: ColumnElement[object] = source.c[key]
    v: ColumnElement[float] = source.c[value]
    if session.get_bind().dialect.name == "postgresql":
        return (
            select(k.label("key"), func.percentile_cont(0.5).within_group(v.asc()).label("median"))
            .where(v.is_not(None))
            .group_by(k)
        )
    ranked = (
        select(
            k.label("key"),
            v.label("value"),
            func.row_number().over(partition_by=k, order_by=v).label("rn"),
            func.count().over(partition_by=k).label("n"),
        )
        .where(v.is_not(None))
        .subquery()
    )
    # The middle rank(s) without division: n <= 2 rn <= n + 2 keeps rank 3 of 5, ranks 2 and 3 of 4.
    middle = (ranked.c.rn * 2).between(ranked.c.n, ranked.c.n + 2)
    return (
        select(ranked.c.key, func.avg(ranked.c.value * 1.0).label("median"))
        .where(middle)
        .group_by(ranked.c.key)
    )
