"""The API document says what the service does: examples, descriptions, problem+json, required If-Match."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from app.main import create_app
from app.schemas import Input
from tests.conftest import ZHAXIA, mentor_payload

PROBLEM = "application/problem+json"
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def document(settings) -> dict[str, Any]:
    # Built once for the module: the document does not depend on the database (nothing connects).
    return create_app(settings).openapi()


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def referenced(document: dict[str, Any], schema: Any, seen: set[str]) -> Iterator[str]:
    """Names of every component schema reachable from `schema`."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str):
            name = ref.rsplit("/", 1)[-1]
            if name not in seen:
                seen.add(name)
                yield name
                yield from referenced(document, document["components"]["schemas"][name], seen)
        for value in schema.values():
            yield from referenced(document, value, seen)
    elif isinstance(schema, list):
        for value in schema:
            yield from referenced(document, value, seen)


def _input_models() -> dict[str, type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {}
    pending: list[type[BaseModel]] = [Input]
    while pending:
        model = pending.pop()
        found[model.__name__] = model
        pending += model.__subclasses__()
    return found


def test_every_request_body_has_an_example_that_is_a_valid_body(document):
    models = _input_models()
    checked = 0
    for path, method, op in operations(document):
        for media_type, media in op.get("requestBody", {}).get("content", {}).items():
            schema = resolve(document, media["schema"])
            examples = (
                [media["example"]]
                if "example" in media
                else [e["value"] for e in media.get("examples", {}).values()] or schema.get("examples", [])
            )
            assert examples, f"{method.upper()} {path} ({media_type}) has no example"
            name = media["schema"].get("$ref", "").rsplit("/", 1)[-1]
            if media_type == "application/json" and name in models:
                for example in examples:
                    models[name].model_validate(example)  # an example must be a body the route accepts
                    checked += 1
    assert checked >= 20


def test_every_error_response_is_problem_json(document):
    assert "ProblemDetails" in document["components"]["schemas"]
    assert "HTTPValidationError" not in document["components"]["schemas"]
    seen = 0
    for path, method, op in operations(document):
        for status, response in op["responses"].items():
            if status[0] in "45":
                seen += 1
                assert list(response.get("content", {})) == [PROBLEM], (method, path, status)
                schema = response["content"][PROBLEM]["schema"]
                assert schema == {"$ref": "#/components/schemas/ProblemDetails"}, (method, path, status)
    assert seen > 100


def test_every_parameter_has_a_description(document):
    missing = [
        (method.upper(), path, p["name"])
        for path, method, op in operations(document)
        for p in op.get("parameters", [])
        if len(p.get("description", "").split()) < 2
    ]
    assert missing == []


def test_every_request_field_has_a_description(document):
    names: set[str] = set()
    for _, _, op in operations(document):
        names |= set(referenced(document, op.get("requestBody", {}), set()))
    assert len(names) > 20
    missing = [
        f"{name}.{field}"
        for name in sorted(names)
        for field, spec in document["components"]["schemas"][name].get("properties", {}).items()
        if not spec.get("description")
    ]
    assert missing == []


def test_every_response_field_has_a_description(document):
    gaps: dict[str, list[str]] = {}
    for name, schema in document["components"]["schemas"].items():
        missing = [f for f, spec in schema.get("properties", {}).items() if not spec.get("description")]
        if missing:
            gaps[name] = missing
    assert gaps == {}
    assert len(document["components"]["schemas"]) > 60


def _if_match(op: dict[str, Any]) -> dict[str, Any] | None:
    return next((p for p in op.get("parameters", []) if p["name"].lower() == "if-match"), None)


def test_if_match_is_required_exactly_where_428_is_declared(document):
    required = set()
    for path, method, op in operations(document):
        header = _if_match(op)
        declares_428 = "428" in op["responses"]
        assert (header is not None and header["in"] == "header") == declares_428, (method, path)
        if header is not None:
            assert header["required"] is True, (method, path)
            required.add(f"{method.upper()} {path}")
    assert required == {
        "PATCH /api/v1/mentors/{profile_id}",
        "PATCH /api/v1/newcomers/{profile_id}",
        "POST /api/v1/proposals/{proposal_id}/approve",
        "POST /api/v1/proposals/{proposal_id}/reject",
    }


class TestRoutesThatRequireIfMatch:
    """What the document marks required, the routes require: 428 without it, then 200 with it."""

    def test_profile_updates(self, client, make_user):
        office = make_user("township_office", ZHAXIA)
        created = client.post("/api/v1/mentors", json=mentor_payload(), headers=office.headers)
        assert created.status_code == 201, created.text
        url = created.headers["location"]
        without = client.patch(url, json={"story": "新故事"}, headers=office.headers)
        assert without.status_code == 428 and without.json()["code"] == "precondition_required"
        assert without.headers["content-type"].startswith(PROBLEM)
        with_tag = client.patch(
            url, json={"story": "新故事"}, headers={**office.headers, "If-Match": created.headers["etag"]}
        )
        assert with_tag.status_code == 200

    @pytest.mark.parametrize("action", ["approve", "reject"])
    def test_decisions(self, action, client, make_user, pair):
        coordinator = make_user("coordinator", "37")
        url = f"/api/v1/proposals/{pair.match_id}/{action}"
        body = {"reason_code": "too_far"} if action == "reject" else {}
        without = client.post(url, json=body, headers=coordinator.headers)
        assert without.status_code == 428 and without.json()["code"] == "precondition_required"
        etag = client.get(f"/api/v1/proposals/{pair.match_id}", headers=coordinator.headers).headers["etag"]
        done = client.post(url, json=body, headers={**coordinator.headers, "If-Match": etag})
        assert done.status_code == 200, done.text


def test_the_served_document_is_the_finished_one(client):
    served = client.get("/openapi.json").json()
    op = served["paths"]["/api/v1/proposals/{proposal_id}/approve"]["post"]
    assert _if_match(op)["required"] is True
    assert list(op["responses"]["404"]["content"]) == [PROBLEM]
