"""Roles allowed on the matching-workflow routes (joined into the authorization matrix)."""

from __future__ import annotations

from tests.authz import RouteTable

WORKFLOW_ROUTES: RouteTable = {}
