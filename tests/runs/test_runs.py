"""Matching runs: scope checks, overlap refusal, idempotent creation, results; recommendations access."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.models import Job, MatchingRun
from tests.conftest import CAOXIAN, JIANGSU, SHANDONG, newcomer_payload


@pytest.fixture
def coordinator(make_user):
    return make_user("coordinator", SHANDONG)


def test_scope_must_exist_and_be_inside_jurisdiction(client, coordinator):
    outside = client.post("/api/v1/matching-runs", json={"scope_code": JIANGSU}, headers=coordinator.headers)
    assert outside.status_code == 422 and outside.json()["code"] == "region_outside_jurisdiction"
    unknown = client.post("/api/v1/matching-runs", json={"scope_code": "379999"}, headers=coordinator.headers)
    assert unknown.status_code == 422 and unknown.json()["code"] == "region_not_found"


def test_overlapping_active_run_is_refused(client, db, coordinator):
    first = client.post("/api/v1/matching-runs", json={"scope_code": SHANDONG}, headers=coordinator.headers)
    assert first.status_code == 202
    inner = client.post("/api/v1/matching-runs", json={"scope_code": CAOXIAN}, headers=coordinator.headers)
    assert inner.status_code == 409 and inner.json()["code"] == "run_in_progress"
    assert inner.json()["run_id"] == first.json()["id"]
    db.get(MatchingRun, first.json()["id"]).status = "done"
    db.commit()
    assert (
        client.post(
            "/api/v1/matching-runs", json={"scope_code": CAOXIAN}, headers=coordinator.headers
        ).status_code
        == 202
    )


def test_learned_ranker_needs_a_model(client, coordinator):
    r = client.post(
        "/api/v1/matching-runs",
        json={"scope_code": SHANDONG, "use_learned_ranker": True},
        headers=coordinator.headers,
    )
    assert r.status_code == 422 and r.json()["code"] == "no_trained_model"


def test_retrain_without_decisions_fails_cleanly(client, db, coordinator, drain):
    assert client.post("/api/v1/models/retrain", headers=coordinator.headers).status_code == 202
    drain()
    job = db.scalar(select(Job).where(Job.kind == "retrain"))
    assert job.status == "failed" and "need at least 20 decisions" in job.last_error
    assert client.get("/api/v1/models", headers=coordinator.headers).json() == []


def test_idempotent_creation(client, db, coordinator):
    h = {**coordinator.headers, "Idempotency-Key": "run-shandong-0001"}
    a = client.post("/api/v1/matching-runs", json={"scope_code": SHANDONG, "k": 5}, headers=h)
    b = client.post("/api/v1/matching-runs", json={"scope_code": SHANDONG, "k": 5}, headers=h)
    assert a.status_code == b.status_code == 202 and a.json() == b.json()
    assert db.scalar(select(func.count()).select_from(MatchingRun)) == 1
    c = client.post("/api/v1/matching-runs", json={"scope_code": SHANDONG, "k": 6}, headers=h)
    assert c.status_code == 422


def test_run_results_and_visibility(client, make_user, seeded, coordinator, drain):
    r = client.post(
        "/api/v1/matching-runs",
        json={"scope_code": SHANDONG, "separation": "province"},
        headers=coordinator.headers,
    )
    drain()
    run = client.get(r.json()["url"], headers=coordinator.headers).json()
    assert run["status"] == "done" and run["progress"] == 1.0 and run["finished_at"]
    ev = run["evaluation"]
    assert (
        ev["cross_province_share"] == 1.0
        and ev["diversity_violations"] == 0
        and ev["capacity_violations"] == 0
    )
    assert client.get(r.json()["url"], headers=make_user("coordinator", JIANGSU).headers).status_code == 404
    listed = client.get("/api/v1/matching-runs", headers=coordinator.headers).json()["items"]
    assert [x["id"] for x in listed] == [run["id"]]


def test_recommendations_are_private(client, make_user, seeded):
    owner = make_user("newcomer")
    nid = client.post("/api/v1/newcomers", json=newcomer_payload(), headers=owner.headers).json()["id"]
    url = f"/api/v1/newcomers/{nid}/recommendations"
    assert client.get(url, headers=make_user("newcomer").headers).status_code == 404
    assert client.get(url, headers=make_user("coordinator", JIANGSU).headers).status_code == 404
    recs = client.get(url, params={"k": 4}, headers=make_user("coordinator", SHANDONG).headers).json()
    assert len(recs) == 4 and [r["rank"] for r in recs] == [1, 2, 3, 4]
    assert all(r["mentor"]["county_code"] != CAOXIAN for r in recs)


def test_nationwide_run_is_for_admins(client, make_user, seeded, coordinator, drain):
    assert client.post("/api/v1/matching-runs", json={}, headers=coordinator.headers).json()["code"] == (
        "region_outside_jurisdiction"
    )
    admin = make_user("admin")
    r = client.post("/api/v1/matching-runs", json={"k": 5}, headers=admin.headers)
    assert r.status_code == 202
    blocked = client.post("/api/v1/matching-runs", json={"scope_code": SHANDONG}, headers=coordinator.headers)
    assert blocked.status_code == 409
    drain()
    run = client.get(r.json()["url"], headers=admin.headers).json()
    assert run["scope_code"] == "" and run["counts"]["newcomers"] == 1000
    assert client.get(r.json()["url"], headers=coordinator.headers).status_code == 404
