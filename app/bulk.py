"""Set-based upsert that works on SQLite and PostgreSQL alike (INSERT ... ON CONFLICT)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def upsert_rows(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    key: Iterable[str],
    update: Iterable[str] | None = None,
) -> None:
    """Insert rows; on a key conflict update the `update` columns (or leave the row as it is)."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table)
    update_cols = list(update or [])
    if update_cols:
        stmt = stmt.on_conflict_do_update(
            index_elements=list(key), set_={c: stmt.excluded[c] for c in update_cols}
        )
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(key))
    session.execute(stmt, list(rows))


def increment_below(
    session: Session,
    table: Table,
    key: dict[str, Any],
    *,
    column: str,
    bound: int,
    insert_extra: dict[str, Any] | None = None,
) -> int | None:
    """Add 1 to `column` of the row at `key` (creating it at 1) unless it already reached `bound`.

    One INSERT ... ON CONFLICT DO UPDATE ... WHERE ... RETURNING statement: the row lock (PostgreSQL)
    or the write lock (SQLite) makes it atomic, so concurrent callers never both take the last unit.
    Returns the new value, or None when the bound was reached.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table).values({**key, **(insert_extra or {}), column: 1})
    current = table.c[column]
    stmt = stmt.on_conflict_do_update(
        index_elements=list(key), set_={column: current + 1}, where=current < bound
    ).returning(current)
    return session.execute(stmt).scalar_one_or_none()
