"""Query strings are held to what the route declares, for every API route in one dependency.

Without it, a misspelt parameter (`?categroy=flowers`) or an unknown filter value (`?category=flower`)
is silently ignored or matches nothing, and the caller gets an empty list that looks like an answer.
Here an unknown parameter name is `422 unknown_query_parameter` listing the accepted names, and a value
outside a closed vocabulary is `422 unknown_filter_value` listing the valid values. A vocabulary is an
Enum or Literal type, or data named by `x-vocabulary` on the parameter (`categories`: the taxonomy).

A single-valued parameter given twice is `422 repeated_query_parameter` (the framework would keep the last).

Order: authentication, then the role check, then the query (`app.deps`): a caller without a valid token
gets 401 and a caller of another role 403, whatever the query says. A public route checks it first.
"""

from __future__ import annotations

import enum
import types
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from fastapi import Query, Request, params
from fastapi.concurrency import run_in_threadpool
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import field_annotation_is_sequence
from fastapi.routing import APIRoute
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import Unprocessable, UnsupportedMediaType
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


_FORM_MEDIA = ("application/x-www-form-urlencoded", "multipart/form-data")
_JSON_MEDIA = ("application/json",)


def check_media(request: Request) -> None:
    """415 with the `accepted` media types for a body of another kind (a CSV posted as the body of the
    upload route, `curl -d` without `Content-Type: application/json`): the framework's 422 would only
    say that the fields are missing. A body without a Content-Type is left to the framework. Checked
    with the query: after the caller is known (401 and 403 first), before the route reads anything."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or route.body_field is None:
        return
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    form = isinstance(route.body_field.field_info, params.Form)
    accepted = _FORM_MEDIA if form else _JSON_MEDIA
    if media and media not in accepted and not (not form and media.endswith("+json")):
        raise UnsupportedMediaType(
            detail=(f"请求体应为 {' 或 '.join(accepted)}", f"the body must be {' or '.join(accepted)}"),
            accepted=list(accepted),
        )


def check_query(request: Request, session: Session | None = None) -> None:
    """422 for a query parameter the route does not declare, repeats, or a value outside its vocabulary
    (and 415 for a body of another media type: `check_media`).

    A data vocabulary is read through `session` when given (the request's own), else a session of its own.
    """
    check_media(request)
    pending = check_closed(request)
    if pending and session is not None:
        check_data(request, pending, session)
    elif pending:
        _check_data_apart(request, pending)


async def check_query_async(request: Request) -> None:
    """`check_query` on the event loop: only a data vocabulary is read, in the thread pool."""
    check_media(request)
    pending = check_closed(request)
    if pending:
        await run_in_threadpool(_check_data_apart, request, pending)


def _check_data_apart(request: Request, pending: list[tuple[str, str]]) -> None:
    with request.app.state.sessionmaker() as own:
        check_data(request, pending, own)


def check_closed(request: Request) -> list[tuple[str, str]]:
    """Raise for unknown or repeated names and closed values; the (name, data vocabulary) pairs left."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return []
    declared = declared_query(route)
    repeated = [
        n for n in request.query_params if n in declared and not declared[n].many and _count(request, n) > 1
    ]
    _refuse_names(_QUERY, set(request.query_params) - declared.keys(), repeated, declared)
    pending = []
    for name, param in declared.items():
        if param.vocabulary is None or name not in request.query_params:
            continue
        if isinstance(param.vocabulary, str):
            pending.append((name, param.vocabulary))
        else:
            _check_values(request, name, param.vocabulary)
    return pending


def check_data(request: Request, pending: list[tuple[str, str]], session: Session) -> None:
    """The values of parameters whose vocabulary is data (the taxonomy), read through `session`."""
    for name, vocabulary in pending:
        _check_values(request, name, set(DATA_VOCABULARIES[vocabulary](session)))


def _count(request: Request, name: str) -> int:
    return len(request.query_params.getlist(name))


def _check_values(request: Request, name: str, allowed: Collection[str]) -> None:
    for value in request.query_params.getlist(name):
        if value not in allowed:
            raise Unprocessable(
                code="unknown_filter_value",
                detail=(f"{name} 的取值 “{value}” 无效", f"{name}={value} is not a valid value"),
                parameter=name,
                value=value,
                allowed=sorted(allowed)[:MAX_LISTED],
            )


@dataclass(frozen=True, slots=True)
class Param:
    """What a route declares of one query parameter."""

    vocabulary: frozenset[str] | str | None  # its closed values, a data vocabulary's name, or None (open)
    many: bool  # a list parameter, which may repeat


# Routes are not hashable; keyed by identity, the route kept alive beside its entry so ids are not reused.
_DECLARED: dict[int, tuple[APIRoute, dict[str, Param]]] = {}


def declared_query(route: APIRoute) -> dict[str, Param]:
    """{name: what is declared of it} for one route's query parameters."""
    entry = _DECLARED.get(id(route))
    if entry is None:
        declared = {
            f.alias: Param(_vocabulary(f.field_info), field_annotation_is_sequence(f.field_info.annotation))
            for f in _query_fields(route.dependant)
        }
        entry = _DECLARED[id(route)] = (route, declared)
    return entry[1]


_DEPENDS: dict[tuple[int, Callable[..., bool]], tuple[APIRoute, bool]] = {}


def depends_on(route: APIRoute, test: Callable[[Callable[..., Any]], bool]) -> bool:
    """Whether a dependency of the route, at any depth, passes `test` (given the dependency's callable)."""
    entry = _DEPENDS.get((id(route), test))
    if entry is None:
        entry = _DEPENDS[(id(route), test)] = (route, _any_call(route.dependant, test))
    return entry[1]


def _any_call(dependant: Dependant, test: Callable[[Callable[..., Any]], bool]) -> bool:
    found = dependant.call is not None and test(dependant.call)
    return found or any(_any_call(sub, test) for sub in dependant.dependencies)


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


async def check_form(request: Request) -> None:
    """422 for a form field the route does not declare, or one given twice (the framework keeps the last).

    A misspelt `dryrun=true` was ignored, and the upload it was meant to preview was applied.
    """
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    declared = {p.alias for p in route.dependant.body_params}
    form = await request.form()  # parsed once: the framework reads the same cached form
    repeated = [name for name in form if len(form.getlist(name)) > 1]
    _refuse_names(_FORM, {name for name in form if name not in declared}, repeated, declared)


@dataclass(frozen=True, slots=True)
class _Kind:
    """How one kind of named input is spoken of in its refusals."""

    code: str  # the codes are unknown_<code> and repeated_<code>
    zh: str
    en: str


_QUERY = _Kind("query_parameter", "查询参数", "query parameter")
_FORM = _Kind("form_field", "表单字段", "form field")


def _refuse_names(
    kind: _Kind,
    unknown: Collection[str],
    repeated: Collection[str],
    accepted: Collection[str],
) -> None:
    """422 for names the route does not declare (listing the accepted), else for a single name repeated.

    Starlette and FastAPI keep the last of repeated values: `?limit=500&limit=5` must not pass as 5.
    """
    if unknown:
        listed = sorted(unknown)[:MAX_LISTED]
        names = ", ".join(listed)
        raise Unprocessable(
            code=f"unknown_{kind.code}",
            detail=(f"未知的{kind.zh}：{names}", f"unknown {kind.en}: {names}"),
            unknown=listed,
            accepted=sorted(accepted),
        )
    if repeated:
        listed = sorted(set(repeated))
        names = ", ".join(listed)
        raise Unprocessable(
            code=f"repeated_{kind.code}",
            detail=(f"{kind.zh}只能出现一次：{names}", f"{kind.en} given more than once: {names}"),
            repeated=listed,
        )
