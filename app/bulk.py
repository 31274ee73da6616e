"""The database layer's bulk writes and every SQLite/PostgreSQL branch outside the engine setup.

Services call these instead of asking which database they run on, so each dialect difference lives
here once: COPY against executemany, array parameters against expanding IN lists, ON CONFLICT
statements, id allocation and transaction-scoped locks. Every function works inside the caller's
transaction and never commits.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    FromClause,
    Select,
    String,
    Table,
    and_,
    any_,
    bindparam,
    column,
    func,
    insert,
    select,
    text,
    values,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import sqltypes


def is_postgres(session: Session) -> bool:
    """True when the session's bind is PostgreSQL (the only place that asks)."""
    return session.get_bind().dialect.name == "postgresql"


def makes_postgres_sessions(sessions: sessionmaker[Session]) -> bool:
    """`is_postgres` for a sessionmaker's sessions, read off its bind without opening one."""
    return bool(sessions.kw["bind"].dialect.name == "postgresql")


# json.dumps(value, ensure_ascii=False), built once instead of per call.
_to_json = json.JSONEncoder(ensure_ascii=False).encode


@functools.lru_cache(maxsize=4_096)
def _json_of_strings(items: tuple[str, ...] | None) -> str:
    return _to_json(list(items) if items is not None else None)


def _json_cell(value: Any) -> str:
    """A JSON column's text for COPY; the same text as _to_json(value).

    Short lists of short strings (channels, languages, changed fields, an empty list) and None repeat
    on nearly every row of a bulk write, so their text is remembered (at most 4,096 x 8 x 32 chars).
    """
    if value is None:
        return _json_of_strings(None)
    if (
        type(value) is list
        and len(value) <= 8
        and all(type(item) is str and len(item) <= 32 for item in value)
    ):
        return _json_of_strings(tuple(value))
    return _to_json(value)


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
                cells[i] = _json_cell(cells[i])
            copy.write_row(cells)


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
    dialect_insert = postgresql.insert if is_postgres(session) else sqlite.insert
    stmt = dialect_insert(table)
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
    dialect_insert = postgresql.insert if is_postgres(session) else sqlite.insert
    stmt = dialect_insert(table).values({**key, **(insert_extra or {}), column: 1})
    current = table.c[column]
    stmt = stmt.on_conflict_do_update(
        index_elements=list(key), set_={column: current + 1}, where=current < bound
    ).returning(current)
    return session.execute(stmt).scalar_one_or_none()


def allocate_ids(session: Session, table: Table, n: int) -> list[int]:
    """n new ids for table's serial `id`, taken the way the database would take them.

    On SQLite the caller's transaction must already hold the write lock (every write transaction
    begins IMMEDIATE), so nobody can take an id between this read and the insert.
    """
    if n <= 0:
        return []
    if is_postgres(session):
        stmt = text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)")
        return [int(i) for i in session.scalars(stmt, {"t": table.name, "n": n})]
    start = session.scalar(select(func.coalesce(func.max(table.c.id), 0))) or 0
    return list(range(start + 1, start + n + 1))


def one_of(session: Session, col: Any, wanted: Collection[str]) -> ColumnElement[bool]:
    """col IN (wanted): one array parameter on PostgreSQL (= ANY), an expanding IN on SQLite.

    Compiling and planning a 1,000-value IN list costs PostgreSQL more than the lookup itself.
    """
    if is_postgres(session):
        return col == any_(bindparam(None, sorted(wanted), type_=ARRAY(String)))
    return col.in_(sorted(wanted))  # type: ignore[no-any-return]


def join_pairs(
    session: Session, stmt: Select[Any], left: tuple[Any, Any], pairs: Sequence[tuple[str, str]]
) -> Select[Any]:
    """stmt joined to (a, b) string pairs on left[0] = a AND left[1] = b.

    PostgreSQL gets two array parameters through unnest (instead of 2,000 bound scalars); SQLite a
    VALUES CTE, which probes a two-column unique index once per pair (a tuple IN scans the table).
    """
    keys: FromClause
    if is_postgres(session):
        keys = (
            func.unnest(
                bindparam("pair_a", [a for a, _b in pairs], type_=ARRAY(String)),
                bindparam("pair_b", [b for _a, b in pairs], type_=ARRAY(String)),
            )
            .table_valued("a", "b")
            .render_derived(with_types=False)
        )
    else:
        keys = values(column("a", String), column("b", String), name="pair_keys").data(list(pairs)).cte()
    return stmt.join(keys, and_(left[0] == keys.c.a, left[1] == keys.c.b))


def _lock_id(key: str | int) -> int:
    """A signed 64-bit advisory-lock id: the int as given, or a stable hash of the string."""
    if isinstance(key, int):
        return key
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)


def lock_for_transaction(session: Session, *keys: str | int) -> None:
    """Hold named locks until the current transaction ends (pg_advisory_xact_lock).

    Keys are taken in sorted order so two transactions locking overlapping sets cannot deadlock, all
    in one statement: an admin's roster chunk touches hundreds of townships, and a round trip per
    lock cost more than the chunk's inserts. ORDER BY the array position makes the order explicit.
    On SQLite every write transaction already holds the database's single write lock from its
    BEGIN IMMEDIATE, which serialises writers more strictly than any named lock, so this is a no-op.
    """
    if not keys or not is_postgres(session):
        return
    lock_ids = sorted({_lock_id(k) for k in keys})
    session.execute(
        text(
            "SELECT pg_advisory_xact_lock(k.id)"
            " FROM unnest(CAST(:ids AS bigint[])) WITH ORDINALITY AS k(id, n) ORDER BY k.n"
        ),
        {"ids": lock_ids},
    )
