"""GET /metrics: who may read it, HTTP figures by route and status, the workload read from the database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from app.db import utcnow
from app.jobs import queue
from app.main import create_app
from app.models import MatchingRun, RosterImport

LOOPBACK = ("127.0.0.1", 40000)


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


@pytest.fixture
def local(app):
    with TestClient(app, raise_server_exceptions=False, client=LOOPBACK) as c:
        yield c


class TestAccess:
    def test_loopback_reads_without_a_token(self, local):
        r = local.get("/metrics")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")

    def test_others_need_the_token(self, client):
        # TestClient's default peer is not a loopback address.
        r = client.get("/metrics")
        assert r.status_code == 401 and r.json()["code"] == "metrics_token_required"
        assert r.headers["content-type"].startswith("application/problem+json")

    def test_bearer_token_from_settings(self, settings, engine, session_factory):
        app = create_app(
            settings.model_copy(update={"metrics_token": SecretStr("scrape-token-123")}), engine=engine
        )
        app.state.sessionmaker = session_factory
        with TestClient(app, raise_server_exceptions=False) as c:
            assert c.get("/metrics", headers={"Authorization": "Bearer scrape-token-123"}).status_code == 200
            assert c.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
            assert c.get("/metrics", headers={"Authorization": "scrape-token-123"}).status_code == 401


class TestFigures:
    def test_requests_by_route_and_status(self, local):
        local.get("/healthz")
        local.get("/api/v1/mentors/12345")  # 401: anonymous
        samples = _samples(local.get("/metrics").text)
        assert (
            _value(samples, "jieduan_http_requests_total", handler="/healthz", method="GET", status="200")
            == 1
        )
        assert (
            _value(
                samples,
                "jieduan_http_requests_total",
                handler="/api/v1/mentors/{profile_id}",
                method="GET",
                status="401",
            )
            == 1
        )
        count = _value(
            samples,
            "jieduan_http_request_duration_seconds_count",
            handler="/healthz",
            method="GET",
            status="200",
        )
        assert count == 1

    def test_unrouted_paths_share_one_label_and_the_scraper_is_not_counted(self, local):
        for n in range(3):
            assert local.get(f"/no/such/page/{n}").status_code == 404
        assert local.delete("/healthz").status_code == 405  # the path matched, the method did not
        local.get("/metrics")
        samples = _samples(local.get("/metrics").text)
        assert _value(samples, "jieduan_http_requests_total", handler="none", method="GET", status="404") == 3
        assert (
            _value(samples, "jieduan_http_requests_total", handler="/healthz", method="DELETE", status="405")
            == 1
        )
        handlers = {
            dict(labels).get("handler") for (name, labels) in samples if name.startswith("jieduan_http")
        }
        assert "/metrics" not in handlers and not any(h and h.startswith("/no/") for h in handlers)

    def test_job_backlog_oldest_age_running_and_failed(self, local, db):
        old = queue.enqueue(db, kind="retrain", ref_id=1)
        old.created_at = utcnow() - timedelta(minutes=10)
        queue.enqueue(db, kind="retrain", ref_id=2)
        failed = queue.enqueue(db, kind="matching_run", ref_id=3)
        failed.status = "failed"
        running = queue.enqueue(db, kind="roster_import", ref_id=4)
        running.status = "running"
        db.commit()
        samples = _samples(local.get("/metrics").text)
        assert _value(samples, "jieduan_jobs", kind="retrain", status="queued") == 2
        assert _value(samples, "jieduan_jobs", kind="matching_run", status="failed") == 1
        assert _value(samples, "jieduan_jobs", kind="roster_import", status="running") == 1
        age = _value(samples, "jieduan_job_oldest_queued_age_seconds", kind="retrain")
        assert age is not None and 590 < age < 3600

    def test_run_durations_and_import_rows_per_second(self, local, db, make_user):
        staff = make_user("admin")
        start = utcnow() - timedelta(hours=1)
        db.add(
            MatchingRun(
                scope_code="37",
                policy={},
                status="done",
                created_by=staff.id,
                started_at=start,
                finished_at=start + timedelta(seconds=42),
            )
        )
        db.add(
            RosterImport(
                created_by=staff.id,
                filename="r.csv",
                size_bytes=1,
                sha256="0" * 64,
                dry_run=False,
                on_error="skip",
                status="done",
                rows_processed=1_000,
                rows_total=1_000,
                started_at=start,
                finished_at=start + timedelta(seconds=10),
            )
        )
        db.commit()
        samples = _samples(local.get("/metrics").text)
        assert _value(samples, "jieduan_matching_run_duration_seconds_count") == 1
        assert _value(samples, "jieduan_matching_run_duration_seconds_sum") == pytest.approx(42)
        assert _value(samples, "jieduan_matching_run_duration_seconds_bucket", le="60.0") == 1
        assert _value(samples, "jieduan_matching_run_duration_seconds_bucket", le="30.0") == 0
        assert _value(samples, "jieduan_import_rows_per_second") == pytest.approx(100)

    def test_login_failures_and_throttles(self, local, make_user, settings):
        user = make_user("coordinator", "37")
        for _ in range(settings.login_max_attempts + 1):
            local.post("/api/v1/auth/token", data={"username": user.username, "password": "wrong password!"})
        samples = _samples(local.get("/metrics").text)
        failures = _value(samples, "jieduan_login_failures_total")
        throttled = _value(samples, "jieduan_auth_throttled_total", route="/api/v1/auth/token")
        assert failures is not None and failures >= 1 and throttled is not None and throttled >= 1
        assert failures + throttled == settings.login_max_attempts + 1
