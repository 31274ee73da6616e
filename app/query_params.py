"""Query strings are held to what the route declares, for every API route in one dependency.

Without it, a misspelt parameter (`?categroy=flowers`) or an unknown filter value (`?category=flower`)
is silently ignored or matches nothing, and the caller gets an empty list that looks like an answer.
Here an unknown parameter name is `422 unknown_query_parameter` listing the accepted names, and a value
outside a closed vocabulary is `422 unknown_filter_value` listing the valid values. A vocabulary is an
Enum or Literal type, or data named by `x-vocabulary` on the parameter (`categories`: the taxonomy).

It runs before the route's own dependencies (authentication included): the accepted names and values
are published in the API document anyway.
"""

from __future__ import annotations

import enum
import types
from collections.abc import Callable, Collection, Iterator
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from fastapi import Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import Unprocessable
from app.models import Category

VOCABULARY_KEY = "x-vocabulary"
# Listed values are cut here: the answer stays short even for a large vocabulary.
MAX_LISTED = 200


def _category_codes(session: Session) -> list[str]:
    return list(session.scalars(select(Category.code).order_by(Category.code)))


# Vocabularies kept as data: name -> the valid values, read when a request uses one.
DATA_VOCABULARIES: dict[str, Callable[[Session], Collection[str]]] = {"categories": _category_codes}

# A product filter: a leaf category or a group (which covers its leaves); the values are the taxonomy's.
CategoryQuery = Annotated[
    str | None,
    Query(
        max_length=64,
        pattern=r"^[a-z_]+(\.[a-z_]+)?$",
        description="A leaf category or a group code (GET /api/v1/categories); a group covers its leaves",
        json_schema_extra={VOCABULARY_KEY: "categories"},
    ),
]


async def check_query(request: Request) -> None:
    """422 for a query parameter the route does not declare, or a value outside its vocabulary.

    async: the names and closed values are checked on the event loop (no thread-pool hop on every API
    request); only a data vocabulary (the taxonomy's codes) is read from the database, in the pool.
    """
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    declared = declared_query(route)
    unknown = sorted(set(request.query_params) - declared.keys())
    if unknown:
        names = ", ".join(unknown)
        raise Unprocessable(
            code="unknown_query_parameter",
            detail=(f"未知的查询参数：{names}", f"unknown query parameter: {names}"),
            unknown=unknown,
            accepted=sorted(declared),
        )
    for name, vocabulary in declared.items():
        if vocabulary is None or name not in request.query_params:
            continue
        if isinstance(vocabulary, frozenset):
            allowed: Collection[str] = vocabulary
        else:
            allowed = await run_in_threadpool(_data_vocabulary, request, vocabulary)
        for value in request.query_params.getlist(name):
            if value not in allowed:
                raise Unprocessable(
                    code="unknown_filter_value",
                    detail=(f"{name} 的取值 “{value}” 无效", f"{name}={value} is not a valid value"),
                    parameter=name,
                    value=value,
                    allowed=sorted(allowed)[:MAX_LISTED],
                )


def _data_vocabulary(request: Request, vocabulary: str) -> set[str]:
    with request.app.state.sessionmaker() as session:
        return set(DATA_VOCABULARIES[vocabulary](session))


_DECLARED: dict[int, tuple[APIRoute, dict[str, frozenset[str] | str | None]]] = {}


def declared_query(route: APIRoute) -> dict[str, frozenset[str] | str | None]:
    """{name: its closed values, a data vocabulary's name, or None (any value)} for one route."""
    entry = _DECLARED.get(id(route))
    if entry is None:
        declared = {f.alias: _vocabulary(f.field_info) for f in _query_fields(route.dependant)}
        entry = _DECLARED[id(route)] = (route, declared)
    return entry[1]


def _query_fields(dependant: Dependant) -> Iterator[Any]:
    yield from dependant.query_params
    for sub in dependant.dependencies:
        yield from _query_fields(sub)


def _vocabulary(info: Any) -> frozenset[str] | str | None:
    extra = info.json_schema_extra
    if isinstance(extra, dict) and isinstance(extra.get(VOCABULARY_KEY), str):
        return str(extra[VOCABULARY_KEY])
    values = _closed_values(info.annotation)
    return frozenset(values) if values else None


def _closed_values(annotation: Any) -> set[str]:
    """The values of an Enum or Literal type (or a union of them, None aside); empty for an open type."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _closed_values(get_args(annotation)[0])
    if origin is Literal:
        return {str(v.value if isinstance(v, enum.Enum) else v) for v in get_args(annotation)}
    if origin in (Union, types.UnionType):
        parts = [a for a in get_args(annotation) if a is not type(None)]
        values = [_closed_values(a) for a in parts]
        # A union with an open member (str | SomeEnum) accepts anything that member accepts.
        return set().union(*values) if all(values) else set()
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return {str(m.value) for m in annotation}
    return set()
