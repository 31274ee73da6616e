"""Roles allowed on the job routes (joined into the authorization matrix)."""

from __future__ import annotations

from tests.authz import STAFF, RouteTable

JOB_ROUTES: RouteTable = {
    ("GET", "/api/v1/jobs/{job_id}"): STAFF,
}
