"""Fast bulk writes inside the caller's transaction: COPY on PostgreSQL, executemany on SQLite."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql import sqltypes

from app.models import Mentor

MENTORS = Mentor.__table__


# json.dumps(value, ensure_ascii=False), built once instead of per call.
_to_json = json.JSONEncoder(ensure_ascii=False).encode


def bulk_insert(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows in the current transaction: COPY on PostgreSQL, executemany on SQLite.

    psycopg's executemany sends one INSERT per row (pipelined); COPY streams them all in one command.
    """
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        connection.execute(insert(table), rows)
        return
    names = list(rows[0])
    as_json = [i for i, n in enumerate(names) if isinstance(table.c[n].type, sqltypes.JSON)]
    columns = ", ".join(connection.dialect.identifier_preparer.quote(n) for n in names)
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy:
        for row in rows:
            cells = [row[n] for n in names]
            for i in as_json:
                cells[i] = _to_json(cells[i])
            copy.write_row(cells)


def allocate_mentor_ids(session: Session, n: int) -> list[int]:
    """n new mentor ids, taken the way the database would take them."""
    if session.get_bind().dialect.name == "postgresql":
        stmt = text("SELECT nextval(pg_get_serial_sequence('mentors', 'id')) FROM generate_series(1, :n)")
        return [int(i) for i in session.scalars(stmt, {"n": n})]
    # SQLite: the chunk's transaction already holds the write lock (its checkpoint UPDATE ran first),
    # so nobody else can take an id between this read and the insert.
    start = session.scalar(select(func.coalesce(func.max(MENTORS.c.id), 0))) or 0
    return list(range(start + 1, start + n + 1))
