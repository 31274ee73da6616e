"""Roles allowed on each console page (joined into the authorization matrix)."""

from __future__ import annotations

from tests.authz import PUBLIC, STAFF, RouteTable

REVIEWERS = frozenset({"admin", "coordinator"})
OFFICE = frozenset({"admin", "township_office"})
ADMIN = frozenset({"admin"})

CONSOLE_ROUTES: RouteTable = {
    ("GET", "/"): PUBLIC,
    ("GET", "/console/login"): PUBLIC,
    ("POST", "/console/login"): PUBLIC,
    ("POST", "/console/logout"): PUBLIC,
    ("GET", "/console/lang/{lang}"): PUBLIC,
    ("GET", "/console"): STAFF,
    ("GET", "/console/proposals"): REVIEWERS,
    ("GET", "/console/proposals/next"): REVIEWERS,
    ("GET", "/console/proposals/{proposal_id}"): REVIEWERS,
    ("POST", "/console/proposals/{proposal_id}/approve"): REVIEWERS,
    ("POST", "/console/proposals/{proposal_id}/reject"): REVIEWERS,
    ("GET", "/console/runs"): REVIEWERS,
    ("POST", "/console/runs"): REVIEWERS,
    ("GET", "/console/runs/{run_id}"): REVIEWERS,
    ("GET", "/console/runs/{run_id}/status.json"): REVIEWERS,
    ("POST", "/console/runs/{run_id}/cancel"): REVIEWERS,
    ("GET", "/console/matches"): REVIEWERS,
    ("GET", "/console/matches/{match_id}"): REVIEWERS,
    ("POST", "/console/matches/{match_id}/check-ins"): REVIEWERS,
    ("POST", "/console/matches/{match_id}/accept"): REVIEWERS,
    ("GET", "/console/flows"): REVIEWERS,
    ("GET", "/console/reports"): REVIEWERS,
    ("GET", "/console/reports/{report}"): REVIEWERS,
    ("GET", "/console/reports/{report}/export"): REVIEWERS,
    ("GET", "/console/honours"): REVIEWERS,
    ("POST", "/console/honours/evaluate"): REVIEWERS,
    ("POST", "/console/honours/{honour_id}/confirm"): REVIEWERS,
    ("POST", "/console/honours/{honour_id}/revoke"): REVIEWERS,
    ("GET", "/console/honours/{honour_id}/certificate"): REVIEWERS,
    ("GET", "/console/office/imports"): OFFICE,
    ("POST", "/console/office/imports"): OFFICE,
    ("GET", "/console/office/imports/{import_id}"): OFFICE,
    ("GET", "/console/office/imports/{import_id}/status.json"): OFFICE,
    ("POST", "/console/office/imports/{import_id}/apply"): OFFICE,
    ("GET", "/console/office/imports/{import_id}/errors.csv"): OFFICE,
    ("GET", "/console/office/roster"): OFFICE,
    ("GET", "/console/office/sellers/{profile_id}"): OFFICE,
    ("GET", "/console/admin/accounts"): ADMIN,
    ("POST", "/console/admin/accounts"): ADMIN,
    ("POST", "/console/admin/accounts/{account_id}/deactivate"): ADMIN,
    ("POST", "/console/admin/accounts/{account_id}/reactivate"): ADMIN,
    ("POST", "/console/admin/accounts/{account_id}/password"): ADMIN,
    ("GET", "/console/admin/jobs"): ADMIN,
}
