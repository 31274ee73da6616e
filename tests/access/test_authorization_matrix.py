"""Every route against every role: new routes cannot slip in without an explicit decision here."""

from __future__ import annotations

import re

import pytest

from tests.authz import EVERYONE, PUBLIC, ROLES, STAFF
from tests.conftest import JIANGSU, ZHAXIA
from tests.impact.authz import IMPACT_ROUTES
from tests.imports.authz import IMPORT_ROUTES
from tests.jobs.authz import JOB_ROUTES
from tests.matches.authz import WORKFLOW_ROUTES
from tests.notifications.authz import NOTIFICATION_ROUTES

# (method, path) -> roles allowed past the role check (object-level checks come after).
# Each domain keeps its own table next to its tests; this file joins them.
CORE: dict[tuple[str, str], frozenset[str] | str] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("POST", "/api/v1/auth/register"): PUBLIC,
    ("POST", "/api/v1/auth/token"): PUBLIC,
    ("POST", "/api/v1/auth/refresh"): PUBLIC,
    ("POST", "/api/v1/auth/logout"): EVERYONE,
    ("GET", "/api/v1/me"): EVERYONE,
    ("POST", "/api/v1/accounts"): frozenset({"admin"}),
    ("GET", "/api/v1/accounts"): frozenset({"admin"}),
    ("GET", "/api/v1/accounts/{account_id}"): frozenset({"admin"}),
    ("PATCH", "/api/v1/accounts/{account_id}"): frozenset({"admin"}),
    ("GET", "/api/v1/regions"): EVERYONE,
    ("GET", "/api/v1/regions/search"): EVERYONE,
    ("GET", "/api/v1/regions/{code}"): EVERYONE,
    ("GET", "/api/v1/categories"): EVERYONE,
    ("GET", "/api/v1/vocabularies"): EVERYONE,
    ("POST", "/api/v1/mentors"): frozenset({"admin", "mentor", "township_office"}),
    ("GET", "/api/v1/mentors"): STAFF,
    ("GET", "/api/v1/me/mentor-profile"): frozenset({"mentor"}),
    ("GET", "/api/v1/mentors/{profile_id}"): EVERYONE - {"newcomer"},
    ("PATCH", "/api/v1/mentors/{profile_id}"): EVERYONE - {"newcomer"},
    ("DELETE", "/api/v1/mentors/{profile_id}"): EVERYONE - {"newcomer"},
    ("POST", "/api/v1/newcomers"): frozenset({"admin", "newcomer", "coordinator"}),
    ("GET", "/api/v1/newcomers"): STAFF,
    ("GET", "/api/v1/me/newcomer-profile"): frozenset({"newcomer"}),
    ("GET", "/api/v1/newcomers/{profile_id}"): EVERYONE - {"mentor"},
    ("PATCH", "/api/v1/newcomers/{profile_id}"): EVERYONE - {"mentor"},
    ("DELETE", "/api/v1/newcomers/{profile_id}"): EVERYONE - {"mentor"},
}

EXPECTED = {**CORE, **IMPORT_ROUTES, **WORKFLOW_ROUTES, **IMPACT_ROUTES, **JOB_ROUTES, **NOTIFICATION_ROUTES}
JURISDICTION = {"coordinator": JIANGSU, "township_office": ZHAXIA}
# Path parameters get a value that exists nowhere (or a real region), so allowed roles see 404/422.
PARAM_VALUES = {
    "code": "321322",
    "account_id": "999999",
    "profile_id": "999999",
    "import_id": "999999",
    "run_id": "999999",
    "proposal_id": "999999",
    "match_id": "999999",
    "newcomer_id": "999999",
    "commitment_id": "999999",
    "honour_id": "999999",
    "report": "reach",
    "job_id": "999999",
    "model_id": "999999",
}


def _routes(app) -> set[tuple[str, str]]:
    # Read from the OpenAPI document: every operation the app serves is in it (none is hidden).
    return {(method.upper(), path) for path, ops in app.openapi()["paths"].items() for method in ops}


def test_every_route_has_a_decision(app):
    assert _routes(app) == set(EXPECTED), "add new routes to EXPECTED with the roles that may call them"


@pytest.mark.parametrize(("method", "path"), sorted(EXPECTED))
def test_role_matrix(client, make_user, method, path):
    url = re.sub(r"\{(\w+)\}", lambda m: PARAM_VALUES[m.group(1)], path)
    allowed = EXPECTED[(method, path)]
    kwargs = {"json": {}} if method in ("POST", "PATCH", "PUT") else {}
    anonymous = client.request(method, url, **kwargs)
    if allowed == PUBLIC:
        assert anonymous.status_code not in (401, 403), anonymous.text
        return
    assert anonymous.status_code == 401, f"{method} {path} answered {anonymous.status_code} without a token"
    for role in ROLES:
        user = make_user(role, JURISDICTION.get(role))
        r = client.request(method, url, headers=user.headers, **kwargs)
        if role in allowed:
            assert r.status_code not in (401, 403), f"{role} refused at {method} {path}: {r.text}"
            assert r.status_code < 500, f"{role} got {r.status_code} at {method} {path}: {r.text}"
        else:
            assert r.status_code == 403, f"{role} let through at {method} {path}: {r.status_code}"
            assert r.json()["code"] == "forbidden"
