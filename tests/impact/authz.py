"""Roles allowed on the outcome, feedback, report and honour routes (joined into the authorization matrix)."""

from __future__ import annotations

from tests.authz import MOBILE, PUBLIC, RouteTable

REVIEWERS = frozenset({"admin", "coordinator"})

IMPACT_ROUTES: RouteTable = {
    ("GET", "/api/v1/matches/{match_id}/outcome"): REVIEWERS | MOBILE,
    ("PUT", "/api/v1/matches/{match_id}/outcome/baseline"): REVIEWERS | {"newcomer"},
    ("POST", "/api/v1/matches/{match_id}/outcome/milestones"): REVIEWERS | {"newcomer"},
    ("POST", "/api/v1/matches/{match_id}/ratings"): MOBILE,
    ("GET", "/api/v1/matches/{match_id}/ratings"): REVIEWERS | MOBILE,
    ("GET", "/api/v1/reports"): REVIEWERS,
    ("GET", "/api/v1/reports/{report}"): REVIEWERS,
    ("GET", "/api/v1/honours/rules"): REVIEWERS,
    ("POST", "/api/v1/honours/evaluate"): REVIEWERS,
    ("GET", "/api/v1/honours"): REVIEWERS,
    ("POST", "/api/v1/honours/{honour_id}/confirm"): REVIEWERS,
    ("POST", "/api/v1/honours/{honour_id}/revoke"): REVIEWERS,
    ("GET", "/api/v1/honours/{honour_id}/certificate"): REVIEWERS | {"mentor"},
    ("GET", "/api/v1/me/honours"): frozenset({"mentor"}),
    ("GET", "/api/v1/verify/{code}"): PUBLIC,
    ("GET", "/verify"): PUBLIC,
    ("GET", "/verify/{code}"): PUBLIC,
}
