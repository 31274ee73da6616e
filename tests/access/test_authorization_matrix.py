"""Every route against every role: new routes cannot slip in without an explicit decision here."""

from __future__ import annotations

import re

import pytest

from app.auth.passwords import hash_password
from tests.authz import EVERYONE, PUBLIC, ROLES, STAFF
from tests.conftest import JIANGSU, ZHAXIA
from tests.console.authz import CONSOLE_ROUTES
from tests.console.helpers import csrf_token
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


# The console's pages: the same decision for every page, and every role tried on each.
def _console_routes() -> set[tuple[str, str]]:
    from app.console.routers import ROUTERS

    return {(m, r.path) for router in ROUTERS for r in router.routes for m in r.methods - {"HEAD"}}


def test_every_console_page_has_a_decision():
    assert _console_routes() == set(CONSOLE_ROUTES), "add new console pages to tests/console/authz.py"


def _console_session(client, db, session_factory, settings, role):  # type: ignore[no-untyped-def]
    """A console session for any role (mobile roles cannot get one through the form; forge it here)."""
    from app.auth import service as auth_service
    from app.models import Account
    from tests.conftest import TEST_PASSWORD

    account = Account(
        username=f"matrix-{role}",
        password_hash=hash_password(TEST_PASSWORD),
        role=role,
        display_name=role,
        jurisdiction_code=JURISDICTION.get(role),
    )
    db.add(account)
    db.commit()
    pair = auth_service.login(
        session_factory, db, settings, username=account.username, password=TEST_PASSWORD, ip="t"
    )
    db.commit()
    client.cookies.clear()
    token = csrf_token(client)
    client.cookies.set("jd_session", pair.refresh_token, path="/console")
    return token


@pytest.mark.parametrize(("method", "path"), sorted(CONSOLE_ROUTES))
def test_console_role_matrix(client, db, session_factory, settings, method, path):
    # A real report name, so an allowed role gets the page itself; other ids exist nowhere (404).
    url = re.sub(r"\{(\w+)\}", lambda m: {"lang": "en", "report": "reach"}.get(m.group(1), "999999"), path)
    allowed = CONSOLE_ROUTES[(method, path)]
    anonymous = client.request(method, url, follow_redirects=False)
    if allowed == PUBLIC:
        # Open to anyone; a form post still needs its CSRF token.
        assert anonymous.status_code < 500 and anonymous.status_code != 401, anonymous.text
        assert anonymous.status_code != 403 or "csrf_failed" in anonymous.text
        return
    # Anonymous: sent to the sign-in page (a POST without a session gets there too, or is refused).
    assert anonymous.status_code in (303, 403), f"{method} {path} answered {anonymous.status_code}"
    if anonymous.status_code == 303:
        assert anonymous.headers["location"].startswith("/console/login")
    for role in ROLES:
        token = _console_session(client, db, session_factory, settings, role)
        data = {"csrftoken": token} if method == "POST" else None
        r = client.request(method, url, data=data, follow_redirects=False)
        if role in allowed:
            assert r.status_code not in (401, 403), f"{role} refused at {method} {path}: {r.status_code}"
            assert not r.headers.get("location", "").startswith("/console/login"), f"{role} at {path}"
            assert r.status_code < 500, f"{role} got {r.status_code} at {method} {path}"
        else:
            assert r.status_code == 403, f"{role} let through at {method} {path}: {r.status_code}"
            # Mentors and newcomers are told the console is not theirs; staff, whose page this is.
            assert ("此页面仅供" if role in STAFF else "工作台仅供协调员") in r.text, (role, path)
