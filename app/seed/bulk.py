"""Bulk inserts for the seeds: executemany in batches, with the new ids back in row order when asked."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

# Rows per executemany: large enough to amortise round trips, small enough for SQLite's variable limit.
BATCH = 1_000


def bulk_insert(
    session: Session, model: Any, rows: list[dict[str, Any]], *, returning: bool = False
) -> list[int]:
    """Insert the rows; with `returning`, the new primary keys in row order."""
    ids: list[int] = []
    for i in range(0, len(rows), BATCH):
        chunk = rows[i : i + BATCH]
        if returning:
            stmt = insert(model).returning(model.id, sort_by_parameter_order=True)
            ids += list(session.scalars(stmt, chunk))
        else:
            session.execute(insert(model), chunk)
    return ids
