"""Roles allowed on the roster-import routes (joined into the authorization matrix)."""

from __future__ import annotations

from tests.authz import RouteTable

OFFICE = frozenset({"admin", "township_office"})

IMPORT_ROUTES: RouteTable = {
    ("POST", "/api/v1/imports"): OFFICE,
    ("GET", "/api/v1/imports"): OFFICE,
    ("GET", "/api/v1/imports/{import_id}"): OFFICE,
    ("GET", "/api/v1/imports/{import_id}/errors"): OFFICE,
    ("GET", "/api/v1/imports/{import_id}/errors.csv"): OFFICE,
    ("GET", "/api/v1/imports/{import_id}/rows"): OFFICE,
}
