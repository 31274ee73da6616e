"""Keyset pagination: one key list gives the ORDER BY, the WHERE after a cursor, and the next cursor.

A cursor is opaque to clients: base64url of a small JSON list holding the last row's key values.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from sqlalchemy import ColumnElement, Select, and_, or_
from sqlalchemy.engine import Row
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.errors import Unprocessable
from app.schemas import MAX_ID, has_nul

T = TypeVar("T")
U = TypeVar("U")

LimitQuery = Annotated[int, Query(ge=1, le=100, description="Page size (at most 100)")]
CursorQuery = Annotated[str | None, Query(max_length=512, description="next_cursor of the previous page")]


@dataclass(frozen=True, slots=True)
class Key:
    """One sort key: a mapped column, its direction, and the JSON type its cursor value has."""

    column: InstrumentedAttribute[Any]
    descending: bool = False
    type: type = int

    def value_of(self, row: Any) -> Any:
        """This key's value on a fetched row: an entity, a row holding its class, or a row of columns."""
        if isinstance(row, Row):
            # A row holding entities carries the key on one of them; a row of columns carries it by name.
            row = next((e for e in row if isinstance(e, self.column.class_)), row)
        return self.type(getattr(row, self.column.key))

    def after(self, value: Any) -> ColumnElement[bool]:
        """Rows strictly after `value` in this key's direction."""
        return self.column < value if self.descending else self.column > value


def asc(column: InstrumentedAttribute[Any], type_: type = int) -> Key:
    """An ascending key."""
    return Key(column, False, type_)


def desc(column: InstrumentedAttribute[Any], type_: type = int) -> Key:
    """A descending key."""
    return Key(column, True, type_)


@dataclass(frozen=True, slots=True)
class Paged(Generic[T]):
    """One page of rows and the cursor of the next (None on the last page)."""

    items: list[T]
    next_cursor: str | None

    def map(self, fn: Callable[[T], U]) -> Paged[U]:
        """The same page with each item mapped (e.g. rows to domain views)."""
        return Paged([fn(i) for i in self.items], self.next_cursor)

    def rows_by_id(self, rows: Iterable[Any]) -> Paged[Any]:
        """The rows this page of keys names (matched on `id`), in the page's order, with its cursor.

        For pages read as their keys first and their wide rows after, by id. A row gone between the two
        statements (deleted by another transaction) is left out, as a page read a moment later would.
        """
        found = {r.id: r for r in rows}
        return Paged([found[k.id] for k in self.items if k.id in found], self.next_cursor)


def encode_cursor(key: list[Any]) -> str:
    """Encode the sort key of the last item of a page."""
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, types: tuple[type, ...]) -> list[Any] | None:
    """Decode and type-check a cursor; a tampered one is a 422, never a 500."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Unprocessable(code="invalid_cursor") from exc
    if (
        not isinstance(key, list)
        or any(isinstance(v, int) and not -MAX_ID <= v <= MAX_ID for v in key)
        or len(key) != len(types)
        or has_nul(key)
        or not all(_fits(v, t) for v, t in zip(key, types, strict=True))
    ):
        raise Unprocessable(code="invalid_cursor")
    return [float(v) if t is float else v for v, t in zip(key, types, strict=True)]


def _no_constant(name: str) -> None:
    # Python's json reads NaN and Infinity, which no sort key of ours can hold (and NaN orders oddly).
    raise ValueError(name)


def _fits(value: Any, type_: type) -> bool:
    if isinstance(value, bool):
        return False
    if type_ is float:
        # JSON writes 1.0 as 1.0, but a hand-made cursor may hold an int where a float is expected;
        # 1e400 reads as infinity, which no score or distance is.
        return isinstance(value, int | float) and math.isfinite(value)
    if type_ is str:
        # "\ud800" reads as a lone surrogate, which no database driver can send.
        return isinstance(value, str) and _encodable(value)
    return isinstance(value, type_)


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _after(keys: Sequence[Key], values: list[Any]) -> ColumnElement[bool]:
    """Lexicographic "after": k1 > v1, or k1 = v1 and k2 > v2, ... (each in its own direction)."""
    clauses = []
    for i, key in enumerate(keys):
        equal = [k.column == v for k, v in zip(keys[:i], values[:i], strict=True)]
        clauses.append(and_(*equal, key.after(values[i])))
    return or_(*clauses)


def paginate(
    session: Session, statement: Select[Any], keys: Sequence[Key], cursor: str | None, limit: int
) -> Paged[Any]:
    """Run one keyset page of `statement` ordered by `keys` (the last key must be unique)."""
    values = decode_cursor(cursor, tuple(k.type for k in keys))
    stmt = statement.order_by(*(k.column.desc() if k.descending else k.column.asc() for k in keys))
    if values is not None:
        stmt = stmt.where(_after(keys, values))
    descriptions = statement.column_descriptions
    stmt = stmt.limit(limit + 1)
    if not any(d["entity"] is not None and d["expr"] is d["entity"] for d in descriptions):
        # Plain columns: Core rows straight from the connection, without the ORM's loading machinery.
        rows = list(session.connection().execute(stmt))
    elif len(descriptions) == 1:
        rows = list(session.scalars(stmt))
    else:
        rows = list(session.execute(stmt))
    page = rows[:limit]
    next_cursor = encode_cursor([k.value_of(page[-1]) for k in keys]) if len(rows) > limit else None
    return Paged(page, next_cursor)
