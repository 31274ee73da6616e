"""GET /api/v1/jobs/{id}: status, attempts and error, scoped to the caller; failed jobs fail their object."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.db import utcnow
from app.jobs import queue
from app.jobs.handlers import HANDLERS
from app.jobs.worker import JobKind, Worker
from app.models import Job
from tests.conftest import SHANDONG, ZHAXIA
from tests.imports.conftest import API_HEADER, api_row, csv_bytes


def _upload(client, office) -> dict:
    r = client.post(
        "/api/v1/imports",
        files={"file": ("roster.csv", csv_bytes([api_row(1)], header=API_HEADER), "text/csv")},
        headers=office.headers,
    )
    assert r.status_code == 202, r.text
    return r.json()


def _job_of(db, kind: str, ref_id: int) -> Job:
    db.expire_all()
    return db.scalar(select(Job).where(Job.kind == kind, Job.ref_id == ref_id))


def _lapse_last_attempt(db, job: Job) -> None:
    """The job's worker was killed on its last attempt: it holds a lease that has run out."""
    job.max_attempts = 1
    db.commit()
    assert queue.claim_next(db, worker_id="killed", lease_seconds=60, kinds=(job.kind,)) is not None
    job.lease_until = utcnow() - timedelta(seconds=1)
    db.commit()


@pytest.fixture
def coordinator(make_user):
    return make_user("coordinator", SHANDONG)


@pytest.fixture
def worker(session_factory, settings):
    return Worker(session_factory, HANDLERS, settings=settings)


class TestGetJob:
    def test_anonymous_is_401(self, client):
        assert client.get("/api/v1/jobs/1").status_code == 401

    @pytest.mark.parametrize("role", ["mentor", "newcomer"])
    def test_mobile_roles_are_403(self, client, make_user, role):
        assert client.get("/api/v1/jobs/1", headers=make_user(role).headers).status_code == 403

    def test_missing_is_404(self, client, coordinator):
        assert client.get("/api/v1/jobs/999999", headers=coordinator.headers).status_code == 404

    def test_retrain_job_visible_to_its_requester_only(self, client, db, coordinator, make_user):
        job = queue.enqueue(db, kind="retrain", ref_id=coordinator.id, max_attempts=1)
        job.last_error = 'Traceback (most recent call last):\n  File "x.py"\nValueError: bad decisions'
        job.status, job.attempts = "failed", 1
        db.commit()
        r = client.get(f"/api/v1/jobs/{job.id}", headers=coordinator.headers)
        assert r.status_code == 200
        body = r.json()
        assert body["status"] == "failed" and body["attempts"] == 1 and body["kind"] == "retrain"
        # The reason, not the traceback with file paths.
        assert body["error"] == "ValueError: bad decisions"
        other = make_user("coordinator", SHANDONG)
        assert client.get(f"/api/v1/jobs/{job.id}", headers=other.headers).status_code == 404
        admin = make_user("admin")
        assert client.get(f"/api/v1/jobs/{job.id}", headers=admin.headers).status_code == 200

    def test_import_job_follows_the_import_s_visibility(self, client, db, make_user, worker):
        office = make_user("township_office", ZHAXIA)
        imp = _upload(client, office)
        job = _job_of(db, "roster_import", imp["id"])
        r = client.get(f"/api/v1/jobs/{job.id}", headers=office.headers)
        assert r.status_code == 200 and r.json()["status"] == "queued" and r.json()["attempts"] == 0
        assert r.json()["object_url"] == imp["url"]
        worker.run_until_idle()
        r = client.get(f"/api/v1/jobs/{job.id}", headers=office.headers)
        assert r.json()["status"] == "done" and r.json()["attempts"] == 1 and r.json()["error"] is None
        other_office = make_user("township_office", "371721101")
        assert client.get(f"/api/v1/jobs/{job.id}", headers=other_office.headers).status_code == 404
        # A coordinator covering the region does not see import jobs (imports belong to offices).
        jiangsu = make_user("coordinator", "32")
        assert client.get(f"/api/v1/jobs/{job.id}", headers=jiangsu.headers).status_code == 404

    def test_run_job_follows_the_run_s_jurisdiction(self, client, db, coordinator, make_user):
        r = client.post("/api/v1/matching-runs", json={"scope_code": SHANDONG}, headers=coordinator.headers)
        job = _job_of(db, "matching_run", r.json()["id"])
        got = client.get(f"/api/v1/jobs/{job.id}", headers=coordinator.headers)
        assert got.status_code == 200 and got.json()["object_url"] == r.json()["url"]
        jiangsu = make_user("coordinator", "32")
        assert client.get(f"/api/v1/jobs/{job.id}", headers=jiangsu.headers).status_code == 404


class TestFailedJobsFailTheirObject:
    def test_lapsed_lease_on_the_last_attempt_fails_the_import(self, client, db, make_user, worker):
        office = make_user("township_office", ZHAXIA)
        imp = _upload(client, office)
        job = _job_of(db, "roster_import", imp["id"])
        _lapse_last_attempt(db, job)
        assert worker.run_until_idle() == 0
        status = client.get(imp["url"], headers=office.headers).json()
        assert status["status"] == "failed" and status["error"]["code"] == "job_failed"
        assert "lease expired" in status["error"]["message_en"]
        shown = client.get(f"/api/v1/jobs/{job.id}", headers=office.headers).json()
        assert shown["status"] == "failed" and "lease expired" in shown["error"]

    def test_lapsed_lease_on_the_last_attempt_fails_the_run(self, client, db, coordinator, worker):
        r = client.post("/api/v1/matching-runs", json={"scope_code": SHANDONG}, headers=coordinator.headers)
        job = _job_of(db, "matching_run", r.json()["id"])
        _lapse_last_attempt(db, job)
        assert worker.run_until_idle() == 0
        run = client.get(r.json()["url"], headers=coordinator.headers).json()
        assert run["status"] == "failed" and "lease expired" in run["error_detail"]
        # The run no longer blocks a new one over the same scope.
        again = client.post(
            "/api/v1/matching-runs", json={"scope_code": SHANDONG}, headers=coordinator.headers
        )
        assert again.status_code == 202

    def test_failure_hook_runs_when_the_last_attempt_raises(self, db, session_factory, settings):
        job = queue.enqueue(db, kind="demo", ref_id=7, max_attempts=1)
        db.commit()
        seen: list[tuple[int, str]] = []

        def boom(ctx) -> None:
            raise RuntimeError("provider said no")

        kinds = {"demo": JobKind(boom, on_failed=lambda s, j: seen.append((j.ref_id, j.last_error)))}
        assert Worker(session_factory, kinds, settings=settings).run_once() is True
        assert len(seen) == 1 and seen[0][0] == 7 and "provider said no" in seen[0][1]
        db.expire_all()
        assert db.get(Job, job.id).status == "failed"


class TestRetrain:
    def test_too_few_decisions_is_422_at_once(self, client, db, coordinator):
        r = client.post("/api/v1/models/retrain", headers=coordinator.headers)
        assert r.status_code == 422 and r.json()["code"] == "not_enough_decisions"
        assert db.scalar(select(Job).where(Job.kind == "retrain")) is None


class TestFailureTextShownToReaders:
    """A failure's own text (SQL, row values, internal addresses) stays in the log; readers see its kind."""

    SECRET = "password=hunter2 host=10.1.2.3 phone 13912345678"

    def test_an_internal_error_shows_its_kind_not_its_text(
        self, client, db, coordinator, worker, monkeypatch
    ):
        from app.runs import service as runs

        def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
            raise RuntimeError(self.SECRET)

        monkeypatch.setattr(runs, "_propose", broken)
        r = client.post("/api/v1/matching-runs", json={"scope_code": SHANDONG}, headers=coordinator.headers)
        job = _job_of(db, "matching_run", r.json()["id"])
        job.max_attempts = 1
        db.commit()
        worker.run_until_idle()
        run = client.get(r.json()["url"], headers=coordinator.headers).json()
        shown = client.get(f"/api/v1/jobs/{job.id}", headers=coordinator.headers).json()
        for text in (run["error_detail"], shown["error"]):
            assert text.startswith("RuntimeError: ") and "hunter2" not in text and "10.1.2.3" not in text
        # Operators keep the whole trace on the job.
        assert self.SECRET in _job_of(db, "matching_run", r.json()["id"]).last_error

    def test_a_failure_written_for_readers_is_shown_as_it_is(self):
        from app.runs.cluster import ClusterUnavailable

        try:
            raise ClusterUnavailable("the Dask cluster went away\nduring the run")
        except ClusterUnavailable as exc:
            stored = queue.stored_error(exc)
        assert queue.reason_of(stored) == "ClusterUnavailable: the Dask cluster went away during the run"
        assert "Traceback" in stored
