"""Fixed SELECTs read below SQLAlchemy's result layer, for the API's hottest reads.

`Connection.execute` costs more than the query for a small, indexed read: it looks the statement's
compiled form up by a cache key, builds an execution context and a result with its metadata, and
processes each row through that machinery. A `PlainSelect` is compiled once per dialect and run on
the DBAPI cursor of the session's own connection (the same transaction), and its rows are decoded by
the column types' own result processors, so the values are the ones `Connection.execute` gives.

Only for statements whose parameters are named bind parameters (`bindparam("x")`), id lists
(`id_in(column, "ids")`) and constants (`literal_execute=True`). A driver error is raised as SQLAlchemy
raises it from `Connection.execute` (its `DBAPIError` subclass), and a lost server connection is
invalidated, so the pool does not hand it out again.
"""

from __future__ import annotations

import json
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import ARRAY, ColumnElement, Integer, Select, String, TypeDecorator, bindparam
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeEngine

Processor = Callable[[Any], Any] | None


class _IdList(TypeDecorator[list[int]]):
    """A list of ids as one parameter: a JSON array on SQLite (json_each), an array on PostgreSQL."""

    impl = String
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(ARRAY(Integer))
        return dialect.type_descriptor(String())

    def process_bind_param(self, value: list[int] | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        ints = [int(v) for v in value]
        return ints if dialect.name == "postgresql" else json.dumps(ints)


class _IdIn(ColumnElement[bool]):
    """`column IN (the ids bound to one parameter)`, one SQL text whatever the number of ids."""

    inherit_cache = True
    _traverse_internals: ClassVar[list[tuple[str, InternalTraversal]]] = [
        ("column", InternalTraversal.dp_clauseelement),
        ("ids", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: Any, name: str) -> None:
        self.column = column
        self.ids = bindparam(name, type_=_IdList())


@compiles(_IdIn)
def _id_in_sqlite(element: _IdIn, compiler: Any, **kw: Any) -> str:
    column, ids = compiler.process(element.column, **kw), compiler.process(element.ids, **kw)
    # Both parts are compiled SQL: the column's name and the parameter's placeholder.
    return f"{column} IN (SELECT value FROM json_each({ids}))"  # noqa: S608


@compiles(_IdIn, "postgresql")
def _id_in_postgresql(element: _IdIn, compiler: Any, **kw: Any) -> str:
    column, ids = compiler.process(element.column, **kw), compiler.process(element.ids, **kw)
    return f"{column} = ANY({ids})"


def id_in(column: Any, name: str) -> ColumnElement[bool]:
    """`column IN ids`, the ids bound at run time to the parameter `name` (any number of them)."""
    return _IdIn(column, name)


@dataclass
class _Compiled:
    sql: str
    # Parameter names in the order the DBAPI wants them (positional), or None for named parameters.
    order: tuple[str, ...] | None
    bind_processors: dict[str, Processor]
    fixed: dict[str, Any]
    result_processors: list[Processor] | None = None


class PlainSelect:
    """A fixed SELECT, compiled once per dialect and read straight from the DBAPI cursor."""

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        names = [c.key for c in statement.selected_columns]
        # Rows read by position or by column name, like SQLAlchemy's Row.
        self.row_type: type[tuple[Any, ...]] = namedtuple("PlainRow", names)  # type: ignore[misc]
        self._types = [c.type for c in statement.selected_columns]
        self._by_dialect: dict[str, _Compiled] = {}

    def _compile(self, dialect: Dialect) -> _Compiled:
        # The run-time parameters get a placeholder value, so the constants can be rendered in place.
        binds = [b for b in visitors.iterate(self.statement) if isinstance(b, BindParameter)]
        required = {b.key: None for b in binds if b.required}
        statement = self.statement.params(required)
        compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
        processors = {
            name: bind.type.dialect_impl(dialect).bind_processor(dialect)
            for name, bind in compiled.binds.items()
        }
        # Literals in the statement (a separator string, say) are parameters whose value is fixed.
        fixed = {}
        for name, bind in compiled.binds.items():
            if name not in required:
                process = processors[name]
                fixed[name] = process(bind.effective_value) if process else bind.effective_value
        order = tuple(compiled.positiontup or ()) if compiled.positional else None
        done = _Compiled(compiled.string, order, processors, fixed)
        self._by_dialect[dialect.name] = done
        return done

    def _parameters(self, compiled: _Compiled, params: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        values = dict(compiled.fixed)
        for name, value in params.items():
            process = compiled.bind_processors.get(name)
            values[name] = process(value) if process is not None else value
        if compiled.order is None:
            return values
        return [values[name] for name in compiled.order]

    def rows(self, connection: Connection, params: Mapping[str, Any] | None = None) -> list[Any]:
        """All rows for these parameters, on the connection's DBAPI cursor (its current transaction)."""
        dialect = connection.dialect
        compiled = self._by_dialect.get(dialect.name) or self._compile(dialect)
        parameters = self._parameters(compiled, params or {})
        cursor = None
        try:
            cursor = connection.connection.cursor()
            cursor.execute(compiled.sql, parameters)
            raw = cursor.fetchall()
            if compiled.result_processors is None:
                compiled.result_processors = [
                    type_.dialect_impl(dialect).result_processor(dialect, column[1])
                    for type_, column in zip(self._types, cursor.description, strict=True)
                ]
        except dialect.loaded_dbapi.Error as exc:
            raise _driver_error(connection, compiled.sql, parameters, exc, cursor) from exc
        finally:
            if cursor is not None:
                cursor.close()
        processors = compiled.result_processors
        make = self.row_type._make  # type: ignore[attr-defined]
        if not any(processors):
            return [make(r) for r in raw]
        return [
            make([v if p is None or v is None else p(v) for p, v in zip(processors, r, strict=True)])
            for r in raw
        ]

    def first(self, connection: Connection, params: Mapping[str, Any] | None = None) -> Any:
        """The first row, or None."""
        rows = self.rows(connection, params)
        return rows[0] if rows else None


def _driver_error(
    connection: Connection, sql: str, parameters: Any, exc: Exception, cursor: Any
) -> DBAPIError:
    """The error `Connection.execute` would raise for this driver error, invalidating a lost connection.

    Callers see one kind of database error whichever path read the rows, and a connection the server
    dropped leaves the pool at once instead of waiting for the next checkout's pre-ping to find it.
    """
    dialect = connection.dialect
    gone = dialect.is_disconnect(exc, connection.connection, cursor)
    error = DBAPIError.instance(
        sql,
        parameters,
        exc,
        dialect.loaded_dbapi.Error,
        hide_parameters=connection.engine.hide_parameters,
        connection_invalidated=gone,
        dialect=dialect,
    )
    if gone:
        connection.invalidate(exc)
    return error
