"""Opaque keyset cursors: base64url of a small JSON list of the last row's sort key."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

from fastapi import Query

from app.errors import Unprocessable
from app.schemas import MAX_ID, has_nul

T = TypeVar("T")

LimitQuery = Annotated[int, Query(ge=1, le=100, description="Page size (at most 100)")]
CursorQuery = Annotated[str | None, Query(max_length=512, description="next_cursor of the previous page")]


def encode_cursor(key: list[Any]) -> str:
    """Encode the sort key of the last item of a page."""
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, types: tuple[type, ...]) -> list[Any] | None:
    """Decode and type-check a cursor; a tampered one is a 422, never a 500."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Unprocessable(code="invalid_cursor") from exc
    if (
        not isinstance(key, list)
        or any(isinstance(v, int) and not -MAX_ID <= v <= MAX_ID for v in key)
        or len(key) != len(types)
        or has_nul(key)
        or not all(isinstance(v, t) and not isinstance(v, bool) for v, t in zip(key, types, strict=True))
    ):
        raise Unprocessable(code="invalid_cursor")
    return key


def page_of(rows: Sequence[T], limit: int, key: Callable[[T], list[Any]]) -> tuple[list[T], str | None]:
    """Split the `limit + 1` rows a keyset query fetched into one page and the next page's cursor."""
    page = list(rows[:limit])
    return page, encode_cursor(key(page[-1])) if len(rows) > limit else None
