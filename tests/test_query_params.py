"""Unknown query parameters and unknown filter values are a 422 on every API route (app/query_params.py).

Parametrised over the OpenAPI document, so a new route is covered the day it is added: each GET route
answers an unknown parameter with the names it accepts (the document's own list), and each enum-typed
query parameter answers an unknown value with the values it accepts (the document's own enum).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from app.main import create_app
from app.models import Category
from tests.conftest import JIANGSU


def _document() -> dict[str, Any]:
    from app.config import Settings

    settings = Settings(env="test", database_url="sqlite:///unused.db", secret_key="x" * 40, run_worker=False)
    return create_app(settings).openapi()


DOCUMENT = _document()
GET_ROUTES = sorted(
    (path, op) for path, item in DOCUMENT["paths"].items() for m, op in item.items() if m == "get"
)
API_GET_ROUTES = [(path, op) for path, op in GET_ROUTES if path.startswith("/api/")]


def _url(path: str) -> str:
    # Any path value will do: the query string is judged before the path and the caller.
    return re.sub(r"\{[^}]+\}", "1", path)


def _enum_values(schema: dict[str, Any]) -> set[str] | None:
    """The closed values of a parameter schema, None when it is open."""
    if "$ref" in schema:
        return _enum_values(DOCUMENT["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]])
    if "enum" in schema:
        return {str(v) for v in schema["enum"]}
    if "const" in schema:
        return {str(schema["const"])}
    if "anyOf" in schema:
        parts = [s for s in schema["anyOf"] if s.get("type") != "null"]
        values = [_enum_values(s) for s in parts]
        if values and all(v is not None for v in values):
            return set().union(*values)  # type: ignore[arg-type]
    return None


def _enum_parameters() -> Iterator[tuple[str, str, set[str]]]:
    for path, op in API_GET_ROUTES:
        for p in op.get("parameters", []):
            if p["in"] == "query" and (values := _enum_values(p["schema"])) is not None:
                yield path, p["name"], values


ENUM_PARAMETERS = list(_enum_parameters())


ROLES = (
    ("admin", None),
    ("coordinator", JIANGSU),
    ("township_office", "321322115"),
    ("mentor", None),
    ("newcomer", None),
)


def _as_an_admitted_role(client, make_user, url: str, params: dict[str, str]):
    """The answer for the first role the route admits (the query is judged after the role check)."""
    for role, jurisdiction in ROLES:
        r = client.get(url, params=params, headers=make_user(role, jurisdiction).headers)
        if r.status_code != 403:
            return r
    raise AssertionError(f"no role may call {url}")


def test_the_document_has_routes_and_filters_to_check():
    assert len(API_GET_ROUTES) > 30 and len(ENUM_PARAMETERS) >= 8


@pytest.mark.parametrize(("path", "op"), API_GET_ROUTES, ids=[p for p, _ in API_GET_ROUTES])
def test_an_unknown_parameter_lists_the_accepted_ones(path, op, client, make_user):
    r = _as_an_admitted_role(client, make_user, _url(path), {"categroy": "flowers"})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["code"] == "unknown_query_parameter" and body["unknown"] == ["categroy"]
    declared = sorted(p["name"] for p in op.get("parameters", []) if p["in"] == "query")
    assert body["accepted"] == declared


@pytest.mark.parametrize(
    ("path", "name", "values"), ENUM_PARAMETERS, ids=[f"{p}?{n}" for p, n, _ in ENUM_PARAMETERS]
)
def test_an_unknown_filter_value_lists_the_valid_ones(path, name, values, client, make_user):
    r = _as_an_admitted_role(client, make_user, _url(path), {name: "no-such-value"})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "unknown_filter_value"
    assert (body["parameter"], body["value"]) == (name, "no-such-value")
    assert set(body["allowed"]) == values


class TestCategoryFilter:
    """The category filter's values are the taxonomy's, read from the database."""

    @pytest.mark.parametrize("plural", ["mentors", "newcomers"])
    def test_a_misspelt_category_lists_the_codes(self, plural, client, make_user, db):
        coordinator = make_user("coordinator", JIANGSU)
        r = client.get(f"/api/v1/{plural}", params={"category": "flower"}, headers=coordinator.headers)
        assert r.status_code == 422, r.text
        body = r.json()
        assert body["code"] == "unknown_filter_value" and body["parameter"] == "category"
        assert body["allowed"] == sorted(db.scalars(select(Category.code)))
        assert "flowers" in body["allowed"] and "flowers.seedlings" in body["allowed"]

    @pytest.mark.parametrize("category", ["flowers", "flowers.seedlings"])
    def test_a_group_or_a_leaf_is_accepted(self, category, client, make_user):
        coordinator = make_user("coordinator", JIANGSU)
        r = client.get("/api/v1/mentors", params={"category": category}, headers=coordinator.headers)
        assert r.status_code == 200, r.text

    def test_messages_in_both_languages(self, client, make_user):
        coordinator = make_user("coordinator", JIANGSU)
        zh = client.get("/api/v1/mentors?category=flower", headers=coordinator.headers).json()
        en = client.get(
            "/api/v1/mentors?category=flower", headers={**coordinator.headers, "Accept-Language": "en"}
        ).json()
        assert zh["title"] == "筛选值无效" and en["title"] == "Unknown filter value"
        assert "flower" in zh["detail"] and en["detail"] == "category=flower is not a valid value"


def test_declared_parameters_and_values_still_pass(client, make_user):
    coordinator = make_user("coordinator", JIANGSU)
    r = client.get(
        "/api/v1/proposals",
        params={"status": "pending", "sort": "-created", "limit": 5},
        headers=coordinator.headers,
    )
    assert r.status_code == 200, r.text


def test_an_anonymous_caller_gets_401_whatever_the_query_says(client):
    # Authentication comes first: a caller with no token, or a bad one, learns nothing from the query check.
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        for params in ({"x": "1"}, {"category": "flower"}, {"limit": 5}):
            r = client.get("/api/v1/mentors", params=params, headers=headers)
            assert r.status_code == 401, (headers, params, r.text)


def test_a_public_route_still_checks_its_query(client):
    # Certificate verification needs no account: its query is checked before anything else.
    r = client.get("/api/v1/verify/ABCD-EFGH", params={"x": "1"})
    assert r.status_code == 422
    assert r.json()["code"] == "unknown_query_parameter" and r.json()["accepted"] == []


def test_a_caller_of_the_wrong_role_gets_403_whatever_the_query_says(client, make_user):
    # The role check comes before the query check: a route's parameters are not a refused caller's business.
    office = make_user("township_office", "321322115")
    coordinator = make_user("coordinator", JIANGSU)
    for user, path in (
        (office, "/api/v1/proposals"),
        (office, "/api/v1/reports/reach"),
        (coordinator, "/api/v1/accounts"),
    ):
        for params in ({}, {"x": "1"}, {"role": "zzz"}, {"status": "zzz"}):
            r = client.get(path, params=params, headers=user.headers)
            assert r.status_code == 403, (path, params, r.text)


@pytest.mark.parametrize(
    "query",
    ["limit=500&limit=5", "limit=5&limit=500", "category=flowers&category=tea", "region=53&region=32"],
)
def test_a_single_valued_parameter_given_twice_is_refused(query, client, make_user):
    # The framework keeps the last value: without this, the answer would depend on the order of the values.
    coordinator = make_user("coordinator", JIANGSU)
    r = client.get(f"/api/v1/mentors?{query}", headers=coordinator.headers)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "repeated_query_parameter"
    assert r.json()["repeated"] == [query.split("=")[0]]
