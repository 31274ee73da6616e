"""Property-based fuzzing of every operation in the OpenAPI schema: no input may cause a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.conftest import JIANGSU


@pytest.fixture
def api_schema(app):
    return schemathesis.openapi.from_asgi("/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture
def fuzz_headers(make_user):
    # Admin reaches the most code; the authorization matrix covers the other roles.
    return make_user("admin").headers


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case, fuzz_headers):
    response = case.call(headers=fuzz_headers)
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text[:300]}"
    if response.status_code >= 400:
        content_type = response.headers.get("content-type") or [""]
        assert content_type[0].startswith("application/problem+json"), response.text[:300]
        assert "code" in response.json()


@schema.parametrize()
@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_as_coordinator(case, make_user):
    response = case.call(headers=make_user("coordinator", JIANGSU).headers)
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text[:300]}"
