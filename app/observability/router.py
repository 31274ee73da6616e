"""GET /metrics for Prometheus: loopback callers by default, anyone else with the metrics bearer token."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.errors import Unauthorized
from app.observability.metrics import may_read_metrics, scrape_registry

router = APIRouter(tags=["operations"])


# Not in the API document: it is for the scraper, and speaks Prometheus text, not JSON.
@router.get("/metrics", include_in_schema=False)
def read_metrics(request: Request) -> Response:
    """Prometheus text exposition of the request, job, run, import and login figures."""
    settings = request.app.state.settings
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    host = request.client.host if request.client else None
    if not may_read_metrics(host, request.headers.get("authorization"), token):
        raise Unauthorized(code="metrics_token_required")
    return Response(generate_latest(scrape_registry(request.app)), media_type=CONTENT_TYPE_LATEST)
