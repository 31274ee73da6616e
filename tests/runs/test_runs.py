"""Matching runs: scope checks, overlap refusal, idempotent creation, results; recommendations access."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.models import Job, Match, MatchingRun, Mentor, Newcomer
from app.runs import service as runs_service
from matching import pipeline
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


def test_retrain_without_decisions_is_refused_at_once(client, db, coordinator):
    r = client.post("/api/v1/models/retrain", headers=coordinator.headers)
    assert r.status_code == 422 and r.json()["code"] == "not_enough_decisions"
    assert r.json()["approvals"] == 0 and r.json()["rejections"] == 0
    # Nothing was queued that could fail later, out of sight.
    assert db.scalar(select(Job).where(Job.kind == "retrain")) is None
    assert client.get("/api/v1/models", headers=coordinator.headers).json() == []


def test_idempotent_creation(client, db, coordinator):
    h = {**coordinator.headers, "Idempotency-Key": "run-shandong-0001"}
    a = client.post("/api/v1/matching-runs", json={"scope_code": SHANDONG, "k": 5}, headers=h)
    b = client.post("/api/v1/matching-runs", json={"scope_code": SHANDONG, "k": 5}, headers=h)
    assert a.status_code == b.status_code == 202 and a.json() == b.json()
    assert db.scalar(select(func.count()).select_from(MatchingRun)) == 1
    c = client.post("/api/v1/matching-runs", json={"scope_code": SHANDONG, "k": 6}, headers=h)
    assert c.status_code == 422


def test_a_replayed_creation_is_answered_only_inside_the_jurisdiction(client, db, coordinator):
    from app.models import Account

    h = {**coordinator.headers, "Idempotency-Key": "run-shandong-0002"}
    assert client.post("/api/v1/matching-runs", json={"scope_code": SHANDONG}, headers=h).status_code == 202
    db.get(Account, coordinator.id).jurisdiction_code = "53"
    db.commit()
    r = client.post("/api/v1/matching-runs", json={"scope_code": SHANDONG}, headers=h)
    assert r.status_code == 422 and r.json()["code"] == "region_outside_jurisdiction"
    assert "idempotent-replayed" not in r.headers


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


# ---------------------------------------------------------------- cancelling a run


def _cancel(client, user, run_id: int):
    return client.post(f"/api/v1/matching-runs/{run_id}/cancel", headers=user.headers)


def test_a_queued_run_is_cancelled_and_never_runs(client, db, seeded, coordinator, drain):
    r = client.post("/api/v1/matching-runs", json={"scope_code": SHANDONG}, headers=coordinator.headers)
    run_id = r.json()["id"]
    cancelled = _cancel(client, coordinator, run_id)
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert (
        body["status"] == "cancelled" and body["finished_at"] and coordinator.username in body["error_detail"]
    )
    # Cancelling again is the same answer; the job is cancelled too and never claimed.
    assert _cancel(client, coordinator, run_id).json()["status"] == "cancelled"
    assert drain() == 0
    db.expire_all()
    job = db.scalar(select(Job).where(Job.kind == "matching_run", Job.ref_id == run_id))
    assert job.status == "cancelled" and job.attempts == 0
    assert db.scalar(select(func.count()).select_from(Match).where(Match.run_id == run_id)) == 0
    # The scope is free at once: an overlapping run may start.
    again = client.post("/api/v1/matching-runs", json={"scope_code": CAOXIAN}, headers=coordinator.headers)
    assert again.status_code == 202


def test_a_finished_run_cannot_be_cancelled(client, seeded, coordinator, drain):
    r = client.post("/api/v1/matching-runs", json={"scope_code": CAOXIAN}, headers=coordinator.headers)
    drain()
    refused = _cancel(client, coordinator, r.json()["id"])
    assert refused.status_code == 409
    assert refused.json()["code"] == "run_finished" and refused.json()["run_status"] == "done"
    assert client.get(r.json()["url"], headers=coordinator.headers).json()["status"] == "done"


def test_only_a_coordinator_of_the_scope_cancels(client, make_user, coordinator):
    r = client.post("/api/v1/matching-runs", json={"scope_code": SHANDONG}, headers=coordinator.headers)
    run_id = r.json()["id"]
    assert _cancel(client, make_user("coordinator", JIANGSU), run_id).status_code == 404
    assert _cancel(client, make_user("mentor"), run_id).status_code == 403
    assert _cancel(client, coordinator, 999_999).status_code == 404
    assert client.get(r.json()["url"], headers=coordinator.headers).json()["status"] == "queued"


@pytest.mark.parametrize("at", ["index", "candidates"], ids=["after-the-index", "between-search-parts"])
def test_a_run_cancelled_while_it_computes_stops_and_writes_nothing(
    client, db, seeded, coordinator, drain, monkeypatch, at: str
):
    # Proposals of an earlier run stay as they were: the cancelled run supersedes nothing.
    first = client.post("/api/v1/matching-runs", json={"scope_code": SHANDONG}, headers=coordinator.headers)
    drain()
    earlier = db.scalar(select(func.count()).select_from(Match).where(Match.run_id == first.json()["id"]))
    assert earlier > 0
    r = client.post("/api/v1/matching-runs", json={"scope_code": SHANDONG}, headers=coordinator.headers)
    run_id = r.json()["id"]
    monkeypatch.setattr(pipeline, "SEARCH_CHUNK_ROWS", 5)  # the search reports (and may stop) every 5 rows
    real_propose = runs_service.propose
    reports: list[tuple[str, int, int]] = []

    def propose_then_cancel(*args, on_stage, **kwargs):
        def cancel_at_the_first(stage: str, done: int, total: int) -> None:
            reports.append((stage, done, total))
            if stage == at and len(reports) == (1 if at == "index" else 2):
                assert _cancel(client, coordinator, run_id).status_code == 200
            on_stage(stage, done, total)

        return real_propose(*args, on_stage=cancel_at_the_first, **kwargs)

    monkeypatch.setattr(runs_service, "propose", propose_then_cancel)
    drain()
    # The run stopped at that checkpoint: no later part was searched.
    if at == "index":
        assert reports == [("index", 1, 1)]
    else:
        assert [r[:2] for r in reports] == [("index", 1), ("candidates", 5)] and reports[1][2] > 5
    db.expire_all()
    run = db.get(MatchingRun, run_id)
    job = db.scalar(select(Job).where(Job.kind == "matching_run", Job.ref_id == run_id))
    assert run.status == "cancelled" and job.status == "cancelled"
    assert db.scalar(select(func.count()).select_from(Match).where(Match.run_id == run_id)) == 0
    proposed = select(func.count()).select_from(Match).where(Match.run_id == first.json()["id"])
    assert db.scalar(proposed.where(Match.status == "proposed")) == earlier


def test_an_in_process_run_reports_its_stages(client, db, seeded, coordinator, drain, monkeypatch):
    seen: list[float] = []
    real_set = runs_service._set

    def record(ctx, run_id, **values):
        if "progress" in values:
            seen.append(values["progress"])
        real_set(ctx, run_id, **values)

    monkeypatch.setattr(runs_service, "_set", record)
    monkeypatch.setattr(pipeline, "SEARCH_CHUNK_ROWS", 5)
    client.post("/api/v1/matching-runs", json={"scope_code": SHANDONG}, headers=coordinator.headers)
    drain()
    # Started, loaded, the mentor index, each part of the search, the candidates, writing.
    assert seen == sorted(seen) and {0.05, 0.3, 0.35, 0.55, 0.7} <= set(seen)
    assert any(0.35 < p < 0.55 for p in seen)


# ---------------------------------------------------------------- decisions made while a run computes


def _decide(client, user, match_id: int, verb: str, body: dict) -> None:
    etag = client.get(f"/api/v1/proposals/{match_id}", headers=user.headers).headers["etag"]
    r = client.post(
        f"/api/v1/proposals/{match_id}/{verb}", json=body, headers={**user.headers, "If-Match": etag}
    )
    assert r.status_code == 200, r.text


def test_a_run_does_not_undo_what_changed_while_it_computed(
    client, db, seeded, coordinator, drain, monkeypatch
):
    """A pair rejected, a newcomer approved or deactivated, a mentor moved mid-run: the write honours them."""
    first = client.post("/api/v1/matching-runs", json={"scope_code": SHANDONG}, headers=coordinator.headers)
    drain()
    pending = list(
        db.scalars(select(Match).where(Match.run_id == first.json()["id"]).order_by(Match.score.desc()))
    )
    assert len(pending) >= 4
    rejected, approved, deactivated, moved = pending[:4]
    rejected_pair = (rejected.newcomer_id, rejected.mentor_id)
    approved_newcomer, gone_newcomer, moved_mentor = (
        approved.newcomer_id,
        deactivated.newcomer_id,
        moved.mentor_id,
    )
    r = client.post("/api/v1/matching-runs", json={"scope_code": SHANDONG}, headers=coordinator.headers)
    run_id = r.json()["id"]
    real_propose = runs_service.propose

    def propose_while_deciding(*args, on_stage, **kwargs):
        # The run has loaded its tables; the coordinator and an admin act before it writes.
        _decide(client, coordinator, rejected.id, "reject", {"reason_code": "same_market"})
        _decide(client, coordinator, approved.id, "approve", {})
        gone = db.get(Newcomer, gone_newcomer)
        gone.is_active = False
        # Into its newcomer's county: the separation the model saw no longer holds.
        mentor = db.get(Mentor, moved_mentor)
        mentor.county_code = mentor.region_code = db.get(Newcomer, moved.newcomer_id).county_code
        db.commit()
        return real_propose(*args, on_stage=on_stage, **kwargs)

    monkeypatch.setattr(runs_service, "propose", propose_while_deciding)
    drain()
    db.expire_all()
    run = db.get(MatchingRun, run_id)
    assert run.status == "done"
    new = list(db.scalars(select(Match).where(Match.run_id == run_id)))
    pairs = {(m.newcomer_id, m.mentor_id) for m in new}
    newcomers = {m.newcomer_id for m in new}
    assert rejected_pair not in pairs
    assert approved_newcomer not in newcomers and gone_newcomer not in newcomers
    assert moved_mentor not in {m.mentor_id for m in new}
    # The model proposed them again (same tables, same model); the write dropped them.
    assert run.counts["dropped_stale"] >= 3 and run.counts["proposals"] == len(new)
    # No mentor is proposed beyond the seats it has left now.
    for mentor_id in {m.mentor_id for m in new}:
        mentor = db.get(Mentor, mentor_id)
        assert sum(m.mentor_id == mentor_id for m in new) <= mentor.capacity - mentor.capacity_used


def test_a_run_leaves_out_the_profiles_of_deactivated_accounts(
    client, db, make_user, seeded, coordinator, drain
):
    # The profile stays active, but nobody can sign in to accept: a proposal could only get stuck.
    first = client.post("/api/v1/matching-runs", json={"scope_code": SHANDONG}, headers=coordinator.headers)
    drain()
    best = db.scalars(
        select(Match).where(Match.run_id == first.json()["id"]).order_by(Match.score.desc())
    ).first()
    newcomer_user, mentor_user = make_user("newcomer"), make_user("mentor")
    db.get(Newcomer, best.newcomer_id).account_id = newcomer_user.id
    db.get(Mentor, best.mentor_id).account_id = mentor_user.id
    db.commit()
    admin = make_user("admin")
    for user in (newcomer_user, mentor_user):
        r = client.patch(f"/api/v1/accounts/{user.id}", json={"is_active": False}, headers=admin.headers)
        assert r.status_code == 200, r.text
    db.expire_all()
    assert db.get(Match, best.id).status == "superseded"
    again = client.post("/api/v1/matching-runs", json={"scope_code": SHANDONG}, headers=coordinator.headers)
    drain()
    new = list(db.scalars(select(Match).where(Match.run_id == again.json()["id"])))
    assert new and best.newcomer_id not in {m.newcomer_id for m in new}
    assert best.mentor_id not in {m.mentor_id for m in new}
    # Reactivated, the seller is back: the profile itself was never deactivated.
    client.patch(f"/api/v1/accounts/{newcomer_user.id}", json={"is_active": True}, headers=admin.headers)
    third = client.post("/api/v1/matching-runs", json={"scope_code": SHANDONG}, headers=coordinator.headers)
    drain()
    assert best.newcomer_id in set(
        db.scalars(select(Match.newcomer_id).where(Match.run_id == third.json()["id"]))
    )


def test_a_pair_that_was_together_is_not_proposed_again(client, db, seeded, coordinator, drain):
    first = client.post("/api/v1/matching-runs", json={"scope_code": SHANDONG}, headers=coordinator.headers)
    drain()
    best = db.scalars(
        select(Match).where(Match.run_id == first.json()["id"]).order_by(Match.score.desc())
    ).first()
    _decide(client, coordinator, best.id, "approve", {})
    for party in ("mentor", "newcomer"):
        r = client.post(
            f"/api/v1/matches/{best.id}/accept", json={"on_behalf_of": party}, headers=coordinator.headers
        )
        assert r.status_code == 200, r.text
    r = client.post(
        f"/api/v1/matches/{best.id}/cancel",
        json={"reason_code": "party_withdrew"},
        headers=coordinator.headers,
    )
    assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
    again = client.post("/api/v1/matching-runs", json={"scope_code": SHANDONG}, headers=coordinator.headers)
    drain()
    new = list(db.scalars(select(Match).where(Match.run_id == again.json()["id"])))
    assert best.newcomer_id in {m.newcomer_id for m in new}  # still proposed, to someone else
    assert (best.newcomer_id, best.mentor_id) not in {(m.newcomer_id, m.mentor_id) for m in new}
    recs = client.get(
        f"/api/v1/newcomers/{best.newcomer_id}/recommendations", params={"k": 20}, headers=coordinator.headers
    )
    assert recs.status_code == 200 and recs.json()
    assert best.mentor_id not in {m["mentor"]["id"] for m in recs.json()}
