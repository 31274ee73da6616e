"""JSON log lines carry the request id of the request that caused them, and the job id of the job."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.jobs.handlers import HANDLERS
from app.jobs.worker import Worker
from app.models import Job
from app.observability.logs import configure_logging
from tests.conftest import SHANDONG


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """Route the root logger into a buffer for the test, then restore it."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)


def _json_lines(stream: io.StringIO) -> list[dict]:
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    # The test's own HTTP client logs too; its lines are not the server's.
    return [line for line in lines if line["logger"] != "httpx"]


@pytest.fixture
def json_client(app, log_stream) -> Iterator[TestClient]:
    def boom() -> None:
        logging.getLogger("jieduan.test").info("about to fail")
        raise RuntimeError("kaboom")

    app.add_api_route("/boom", boom, methods=["GET"])
    with TestClient(app, raise_server_exceptions=False) as c:
        # After start-up: the app configures logging when it is built; the test then takes the root over.
        configure_logging(level="INFO", fmt="json", stream=log_stream)
        yield c


def test_every_line_of_a_failing_request_has_its_id(json_client, log_stream):
    r = json_client.get("/boom", headers={"X-Request-ID": "req-boom-1"})
    assert r.status_code == 500
    assert r.headers["x-request-id"] == "req-boom-1"
    assert r.json()["request_id"] == "req-boom-1"
    lines = _json_lines(log_stream)
    by_logger = {line["logger"]: line for line in lines}
    assert by_logger["jieduan.test"]["message"] == "about to fail"
    # The error handler or the outer guard logs it, whichever catches it first; either line carries the id.
    assert any("unhandled error" in line["message"] for line in lines)
    assert "jieduan.access" in by_logger
    assert lines and all(line["request_id"] == "req-boom-1" for line in lines)
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)


def test_problem_bodies_quote_a_generated_request_id(json_client):
    r = json_client.get("/api/v1/mentors/1")
    assert r.status_code == 401
    assert r.json()["request_id"] == r.headers["x-request-id"] and len(r.headers["x-request-id"]) >= 16


def test_a_queued_job_logs_the_request_id_and_its_job_id(
    json_client, log_stream, db, make_user, session_factory, settings
):
    coordinator = make_user("coordinator", SHANDONG)
    r = json_client.post(
        "/api/v1/matching-runs",
        json={"scope_code": SHANDONG},
        headers={**coordinator.headers, "X-Request-ID": "req-run-7"},
    )
    assert r.status_code == 202
    job = db.scalar(select(Job).where(Job.kind == "matching_run", Job.ref_id == r.json()["id"]))
    assert job.request_id == "req-run-7"
    log_stream.truncate(0)
    log_stream.seek(0)
    assert Worker(session_factory, HANDLERS, settings=settings).run_until_idle() == 1
    lines = [line for line in _json_lines(log_stream) if line["logger"] == "jieduan.worker"]
    assert len(lines) >= 2  # started, done
    assert all(line["job_id"] == job.id and line["request_id"] == "req-run-7" for line in lines)


def test_text_is_the_default_and_still_shows_the_ids(app, log_stream):
    with TestClient(app, raise_server_exceptions=False) as c:
        configure_logging(level="INFO", fmt="text", stream=log_stream)
        c.get("/healthz", headers={"X-Request-ID": "req-text"})
    assert app.state.settings.log_format == "text"
    access = [line for line in log_stream.getvalue().splitlines() if "jieduan.access" in line]
    assert access and "req=req-text" in access[0]
