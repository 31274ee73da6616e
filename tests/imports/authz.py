"""Roles allowed on the roster-import routes (joined into the authorization matrix)."""

from __future__ import annotations

from tests.authz import RouteTable

IMPORT_ROUTES: RouteTable = {}
