"""Roles allowed on the matching-workflow routes (joined into the authorization matrix)."""

from __future__ import annotations

from tests.authz import MOBILE, RouteTable

REVIEWERS = frozenset({"admin", "coordinator"})
MATCH_VIEWERS = REVIEWERS | MOBILE

WORKFLOW_ROUTES: RouteTable = {
    ("POST", "/api/v1/matching-runs"): REVIEWERS,
    ("GET", "/api/v1/matching-runs"): REVIEWERS,
    ("GET", "/api/v1/matching-runs/{run_id}"): REVIEWERS,
    ("POST", "/api/v1/matching-runs/{run_id}/cancel"): REVIEWERS,
    ("POST", "/api/v1/models/retrain"): REVIEWERS,
    ("GET", "/api/v1/models"): REVIEWERS,
    ("GET", "/api/v1/models/{model_id}"): REVIEWERS,
    ("POST", "/api/v1/models/{model_id}/promote"): REVIEWERS,
    ("POST", "/api/v1/models/rollback"): REVIEWERS,
    ("GET", "/api/v1/proposals"): REVIEWERS,
    ("GET", "/api/v1/proposals/{proposal_id}"): REVIEWERS,
    ("POST", "/api/v1/proposals/{proposal_id}/approve"): REVIEWERS,
    ("POST", "/api/v1/proposals/{proposal_id}/reject"): REVIEWERS,
    ("GET", "/api/v1/me/matches"): MOBILE,
    ("GET", "/api/v1/matches/{match_id}"): MATCH_VIEWERS,
    ("POST", "/api/v1/matches/{match_id}/accept"): MATCH_VIEWERS,
    ("POST", "/api/v1/matches/{match_id}/decline"): MATCH_VIEWERS,
    ("POST", "/api/v1/matches/{match_id}/complete"): REVIEWERS,
    ("POST", "/api/v1/matches/{match_id}/cancel"): MATCH_VIEWERS,
    ("GET", "/api/v1/matches/{match_id}/transitions"): REVIEWERS,
    ("GET", "/api/v1/matches/{match_id}/commitments"): MATCH_VIEWERS,
    ("POST", "/api/v1/commitments/{commitment_id}/check-ins"): MATCH_VIEWERS,
    ("GET", "/api/v1/newcomers/{newcomer_id}/recommendations"): frozenset(
        {"admin", "coordinator", "newcomer"}
    ),
    ("GET", "/api/v1/me/notifications"): MOBILE,
}
