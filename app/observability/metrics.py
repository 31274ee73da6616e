"""Prometheus metrics: HTTP traffic per route and status, and the queue and workload read from the database.

Request counts and latencies are recorded by `HttpMetrics`, which the front middleware (app.middleware)
calls once per request with the route that served it (one per-app registry, so several apps in one
process never clash). Everything about jobs, runs and imports is read from the database at scrape
time, so it is the same whichever web or worker process did the work. Login failures and throttles are
counted from the auth routes' answers (401 and 429).
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, Final

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import Scope

from app.db import utcnow
from app.models import Job, MatchingRun, RosterImport
from app.models.imports import ImportStatus
from app.models.jobs import JobStatus
from app.models.matches import RunStatus

LOGIN_ROUTE: Final = "/api/v1/auth/token"
AUTH_ROUTES: Final = ("/api/v1/auth/token", "/api/v1/auth/register", "/api/v1/auth/refresh")
RUN_BUCKETS: Final = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
LATENCY_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Duration figures look at recent work only: a scrape must stay cheap however long the service has run.
_RECENT_RUNS: Final = 500


class WorkloadCollector(Collector):
    """Job backlog, oldest queued age, running/failed by kind, run durations, import throughput."""

    def __init__(self, sessions: Callable[[], sessionmaker[Session]]) -> None:
        self._sessions = sessions

    def collect(self) -> Iterator[Metric]:
        """Read the figures in one short read-only session."""
        with self._sessions()() as session:
            yield from _job_metrics(session, utcnow())
            yield _run_durations(session)
            yield from _import_metrics(session)


def _job_metrics(session: Session, now: datetime) -> Iterator[Metric]:
    jobs = GaugeMetricFamily(
        "jieduan_jobs", "Jobs by kind and status (queued = backlog)", labels=["kind", "status"]
    )
    for kind, status, count in session.execute(
        select(Job.kind, Job.status, func.count()).group_by(Job.kind, Job.status)
    ):
        jobs.add_metric([kind, status], count)
    yield jobs
    oldest = GaugeMetricFamily(
        "jieduan_job_oldest_queued_age_seconds", "Age of the oldest queued job, by kind", labels=["kind"]
    )
    for kind, created in session.execute(
        select(Job.kind, func.min(Job.created_at)).where(Job.status == JobStatus.QUEUED).group_by(Job.kind)
    ):
        oldest.add_metric([kind], max(0.0, (now - _aware(created)).total_seconds()))
    yield oldest


def _run_durations(session: Session) -> Metric:
    rows = session.execute(
        select(MatchingRun.started_at, MatchingRun.finished_at)
        .where(MatchingRun.status == RunStatus.DONE, MatchingRun.started_at.is_not(None))
        .order_by(MatchingRun.id.desc())
        .limit(_RECENT_RUNS)
    ).all()
    durations = [(_aware(end) - _aware(start)).total_seconds() for start, end in rows if end is not None]
    buckets = [(str(b), sum(1 for d in durations if d <= b)) for b in RUN_BUCKETS]
    buckets.append(("+Inf", len(durations)))
    histogram = HistogramMetricFamily(
        "jieduan_matching_run_duration_seconds",
        f"Durations of the last {_RECENT_RUNS} finished matching runs",
    )
    histogram.add_metric([], buckets, sum(durations))
    return histogram


def _import_metrics(session: Session) -> Iterator[Metric]:
    last = session.execute(
        select(RosterImport.rows_processed, RosterImport.started_at, RosterImport.finished_at)
        .where(
            RosterImport.status == ImportStatus.DONE,
            RosterImport.started_at.is_not(None),
            ~RosterImport.dry_run,
        )
        .order_by(RosterImport.finished_at.desc())
        .limit(1)
    ).first()
    rate = GaugeMetricFamily("jieduan_import_rows_per_second", "Rows per second of the last finished import")
    if last is not None and last.finished_at is not None:
        seconds = (_aware(last.finished_at) - _aware(last.started_at)).total_seconds()
        rate.add_metric([], last.rows_processed / seconds if seconds > 0 else 0.0)
    yield rate
    imports = GaugeMetricFamily("jieduan_imports", "Roster imports by status", labels=["status"])
    for status, count in session.execute(
        select(RosterImport.status, func.count()).group_by(RosterImport.status)
    ):
        imports.add_metric([status], count)
    yield imports


def _aware(moment: datetime) -> datetime:
    # The UTC column type returns aware datetimes; this guards aggregates that come back naive.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# Requests that match no route share one label value, so a scan of random paths cannot grow the series.
UNMATCHED: Final = "none"
# The scraper's own requests are not counted.
UNCOUNTED: Final = frozenset({"/metrics"})


def route_template(scope: Scope) -> str:
    """The template of the route that served a request (`/api/v1/mentors/{profile_id}`), or "none".

    The router leaves the matched route in the scope (also for a 405, where only the path matched), so
    nothing is matched a second time. The routers carry their prefixes themselves (`APIRouter(prefix=)`)
    and are included without one, so a route's own path is its full template.
    """
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


class HttpMetrics:
    """Requests and latencies by route template, method and status; login failures and auth throttles."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ("handler", "method", "status")
        self.registry = registry
        self._requests = Counter(
            "http_requests_total",
            "Total number of requests by method, status and handler.",
            labels,
            namespace="jieduan",
            registry=registry,
        )
        self._latency = Histogram(
            "http_request_duration_seconds",
            "Duration of HTTP requests in seconds",
            labels,
            namespace="jieduan",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self._login_failures = Counter(
            "jieduan_login_failures_total", "Logins refused (401)", registry=registry
        )
        self._throttled = Counter(
            "jieduan_auth_throttled_total",
            "Auth requests throttled (429), by route",
            ["route"],
            registry=registry,
        )
        # The labelled children, found once per (handler, method, status): `labels()` takes a lock.
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, scope: Scope, status: int, seconds: float) -> None:
        """Count one finished request and its duration under its route template."""
        handler = route_template(scope)
        if handler in UNCOUNTED:
            return
        key = (handler, scope["method"], status)
        series = self._series.get(key)
        if series is None:
            values = (handler, scope["method"], str(status))
            series = self._series[key] = (self._requests.labels(*values), self._latency.labels(*values))
        series[0].inc()
        series[1].observe(seconds)
        if handler in AUTH_ROUTES:
            if status == 429:
                self._throttled.labels(handler).inc()
            elif status == 401 and handler == LOGIN_ROUTE:
                self._login_failures.inc()


def install_metrics(app: FastAPI) -> HttpMetrics:
    """The app's request metrics and its registry, with the workload collector registered."""
    registry = CollectorRegistry()
    registry.register(WorkloadCollector(lambda: app.state.sessionmaker))
    return HttpMetrics(registry)


def scrape_registry(app: FastAPI) -> CollectorRegistry:
    """The registry to expose: the app's own, or, with several web processes, all of theirs combined.

    Under `uvicorn --workers N` each process counts its own requests; with PROMETHEUS_MULTIPROC_DIR set
    (the image sets it) prometheus-client keeps the values in files there and sums them at scrape.
    """
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return app.state.metrics_registry
    combined = CollectorRegistry()
    multiprocess.MultiProcessCollector(combined)
    combined.register(WorkloadCollector(lambda: app.state.sessionmaker))
    return combined


def may_read_metrics(client_host: str | None, authorization: str | None, token: str | None) -> bool:
    """Loopback callers may read; anyone else needs `Authorization: Bearer <JIEDUAN_METRICS_TOKEN>`."""
    if token and authorization:
        scheme, _, presented = authorization.partition(" ")
        if scheme.lower() == "bearer" and secrets.compare_digest(presented.strip().encode(), token.encode()):
            return True
    try:
        return client_host is not None and ipaddress.ip_address(client_host).is_loopback
    except ValueError:
        return False
