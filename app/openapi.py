"""OpenAPI helpers: declare a route's problem responses in one call."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class Problem(BaseModel):
    """RFC 9457 problem details, with a stable machine `code`."""

    type: str
    title: str
    status: int
    code: str
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None


_DESCRIPTIONS = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Role not allowed",
    404: "Not found or not yours",
    409: "State conflict",
    412: "Stale ETag",
    413: "Too large",
    415: "Unsupported media type",
    422: "Invalid input",
    428: "If-Match required",
    429: "Too many requests",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entry for the given error statuses, all problem+json."""
    return {
        s: {
            "model": Problem,
            "description": _DESCRIPTIONS.get(s, "Error"),
            "content": {"application/problem+json": {}},
        }
        for s in statuses
    }
