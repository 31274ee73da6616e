"""JSON responses for bodies a service built from database rows, serialised by orjson.

A route that returns one of these skips FastAPI's response validation (a second pass over data the
service has just built, plus a thread-pool hop in a sync route). The route still declares its
`response_model` for the OpenAPI document, and a test per body holds the built dicts to that model:
validating them through it changes nothing and they equal the model's own serialisation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

# UTC datetimes end in "Z", as pydantic writes them; floats and datetimes otherwise print as pydantic's.
_OPTIONS = orjson.OPT_UTC_Z


def encode(content: Any) -> bytes:
    """The JSON bytes of a body (the same text pydantic's JSON mode gives for these types)."""
    return orjson.dumps(content, option=_OPTIONS)


def json_response(
    content: Any, *, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A 200 (or `status_code`) application/json response of an already-built body."""
    return Response(encode(content), status_code=status_code, headers=headers, media_type="application/json")
