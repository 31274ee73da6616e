"""The API document: problem responses declared in one call, and the document finished in one place.

`problems(...)` is what routes put in `responses=`. `install_openapi` finishes the generated document
so that it says what the service does:
- every 4xx/5xx response is `application/problem+json` with the `ProblemDetails` schema (FastAPI
  would attach the schema to `application/json`, and adds its own `HTTPValidationError` 422s);
- a route that declares 428 requires `If-Match`, so its If-Match header is marked required (the
  header stays optional to the parser, so that a missing one is the documented 428, not a 422);
- path ids shared by many routes get their description here, by parameter name.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

PROBLEM_JSON = "application/problem+json"
PROBLEM_REF = "#/components/schemas/ProblemDetails"


class FieldError(BaseModel):
    """One invalid field of a 422 validation_failed problem."""

    loc: list[str | int] = Field(description='Where: "body", "query", "path" or "header", then the field')
    msg: str = Field(description="What is wrong, in the caller's language")
    type: str = Field(description="Stable machine code of the check that failed (pydantic's)")


class ProblemDetails(BaseModel):
    """RFC 9457 problem details, with a stable machine `code`; some codes add fields of their own."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "https://jieduan.org/problems/unknown_filter_value",
                    "title": "筛选值无效",
                    "status": 422,
                    "code": "unknown_filter_value",
                    "detail": "category 的取值 “flower” 无效",
                    "instance": "/api/v1/mentors",
                    "request_id": "5f0c2a8e9b3d4c1e8a7f6b5d4c3b2a19",
                    "parameter": "category",
                    "value": "flower",
                    "allowed": ["flowers", "flowers.cut", "flowers.seedlings"],
                }
            ]
        },
    )

    type: str = Field(description="URI naming the problem kind: https://jieduan.org/problems/{code}")
    title: str = Field(description="Short human title, zh-CN or English by Accept-Language")
    status: int = Field(description="The HTTP status, repeated")
    code: str = Field(description="Stable machine code to branch on (e.g. precondition_required)")
    detail: str | None = Field(default=None, description="What happened in this case, when known")
    instance: str | None = Field(default=None, description="The request path")
    request_id: str | None = Field(
        default=None, description="The X-Request-ID of the request: quote it when reporting a problem"
    )
    errors: list[FieldError] | None = Field(
        default=None, description="validation_failed only: each invalid field"
    )


_DESCRIPTIONS = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Role not allowed",
    404: "Not found or not yours",
    409: "State conflict",
    412: "Stale ETag: the resource changed since you read it",
    413: "Too large",
    415: "Unsupported media type",
    422: "Invalid input: a body field, a parameter, an unknown query parameter or filter value",
    428: "If-Match required",
    429: "Too many requests",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entry for the given error statuses, all problem+json."""
    return {
        s: {
            "description": _DESCRIPTIONS.get(s, "Error"),
            "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}},
        }
        for s in statuses
    }


# Path parameters shared by many routes (IdPath), described by name; a new one fails the OpenAPI test.
PATH_PARAMETERS = {
    "account_id": "Id of the account",
    "profile_id": "Id of the mentor or newcomer profile",
    "newcomer_id": "Id of the newcomer profile",
    "import_id": "Id of the roster import (from the 202 answer or GET /api/v1/imports)",
    "run_id": "Id of the matching run (from the 202 answer or GET /api/v1/matching-runs)",
    "model_id": "Id of the ranker model version (GET /api/v1/models)",
    "proposal_id": "Id of the proposal (a match in the proposed state; GET /api/v1/proposals)",
    "match_id": "Id of the match (the same id it had as a proposal)",
    "commitment_id": "Id of the commitment (GET /api/v1/matches/{match_id}/commitments)",
    "honour_id": "Id of the honour (GET /api/v1/honours)",
    "job_id": "Id of the background job",
}
# Query parameters of routes owned elsewhere, described here until their routers say it themselves.
QUERY_PARAMETERS = {
    "k": "How many mentors to return (at most 20)",
    "date_from": "First day of the period (YYYY-MM-DD; default: 365 days before date_to)",
    "date_to": "Last day of the period (YYYY-MM-DD; default: today)",
    "format": "json, or a download: xlsx or csv",
}


def install_openapi(app: FastAPI) -> None:
    """Serve the finished document (FastAPI builds it once, on first request; it is finished then)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = finish(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def finish(document: dict[str, Any]) -> dict[str, Any]:
    """Problem responses, required If-Match and shared parameter descriptions (see the module doc)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    problem_schema = ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem_schema.pop("$defs", {}))
    schemas["ProblemDetails"] = problem_schema
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            _finish_operation(operation)
    # FastAPI's own validation-error schemas, referenced only by the 422s replaced above.
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document


def _finish_operation(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.get("responses", {})
    for status, response in responses.items():
        if status[0] in "45":
            response["content"] = {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}}
    for parameter in operation.get("parameters", []):
        name = parameter["name"]
        if parameter["in"] == "header" and name.lower() == "if-match" and "428" in responses:
            parameter["required"] = True
        if not parameter.get("description"):
            known = PATH_PARAMETERS if parameter["in"] == "path" else QUERY_PARAMETERS
            if name in known:
                parameter["description"] = known[name]
