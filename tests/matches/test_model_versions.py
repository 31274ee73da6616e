"""Model versions per jurisdiction: list, read, promote, roll back, pin on a run, retrain through the gate."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select, update

from app.db import utcnow
from app.models import Match, MatchingRun, ModelVersion
from app.ranker.service import active_model
from app.recommendations.index import RecommenderCache
from matching import LearnedRanker, Policy, pair_features, propose
from matching.simulate import persona
from matching.synthetic import generate_population
from tests.conftest import JIANGSU, SHANDONG


@pytest.fixture(scope="module")
def params() -> dict[str, Any]:
    """A real, small fitted re-ranker as stored JSON."""
    pop = generate_population(200, 800, seed=2, with_display=False)
    ps = propose(pop.mentors, pop.newcomers, Policy(), seed=1)
    x = pair_features(pop.mentors, pop.newcomers, ps.mentor_row, ps.newcomer_row)
    y, why = persona("fresh_logistics").decide(x, ps.newcomer_id, ps.mentor_id)
    return LearnedRanker.fit(x, y, groups=ps.newcomer_id, reasons=why, version="fixture").to_dict()


@pytest.fixture
def versions(db, params):
    """Shandong: an active one, a candidate the gate passed and one it refused; Jiangsu's; a national one."""

    def make(name: str, code: str, status: str, passed: bool) -> ModelVersion:
        m = ModelVersion(
            version=name,
            jurisdiction_code=code,
            status=status,
            kind=params["kind"],
            params={**params, "version": name},
            metrics=params["metrics"],
            gate={"promote": passed, "reasons": ["test"]},
            n_samples=100,
            promoted_at=utcnow() if status == "active" else None,
        )
        db.add(m)
        db.flush()
        return m

    out = {
        "sd_active": make("sd-1", SHANDONG, "active", True),
        "sd_good": make("sd-2", SHANDONG, "candidate", True),
        "sd_bad": make("sd-3", SHANDONG, "candidate", False),
        "js": make("js-1", JIANGSU, "active", True),
        "cn": make("cn-1", "", "active", True),
    }
    db.commit()
    return out


@pytest.fixture
def coordinator(make_user):
    return make_user("coordinator", "3717")  # a prefecture of Shandong: the Shandong model is theirs


class TestListModels:
    def test_anonymous(self, client):
        assert client.get("/api/v1/models").status_code == 401

    def test_forbidden_for_sellers(self, client, make_user):
        assert client.get("/api/v1/models", headers=make_user("newcomer").headers).status_code == 403

    def test_own_province_and_national_with_what_they_learned(self, client, coordinator, versions):
        body = client.get("/api/v1/models", headers=coordinator.headers).json()
        assert {m["version"] for m in body} == {"sd-1", "sd-2", "sd-3", "cn-1"}
        first = next(m for m in body if m["version"] == "sd-1")
        assert first["features"][0] == "default_score" and "distance_km" in first["features"]
        assert first["importances"] and first["learned"]["en"] and first["learned"]["zh"]
        assert {"auc", "approval_at_top", "chosen", "why"} <= set(first["metrics"])

    def test_filter_by_jurisdiction(self, client, coordinator, versions):
        r = client.get("/api/v1/models", params={"jurisdiction": ""}, headers=coordinator.headers)
        assert [m["version"] for m in r.json()] == ["cn-1"]
        bad = client.get("/api/v1/models", params={"jurisdiction": "3x"}, headers=coordinator.headers)
        assert bad.status_code == 422


class TestGetModel:
    def test_not_found_outside_jurisdiction(self, client, coordinator, versions):
        r = client.get(f"/api/v1/models/{versions['js'].id}", headers=coordinator.headers)
        assert r.status_code == 404
        assert client.get("/api/v1/models/999999", headers=coordinator.headers).status_code == 404

    def test_success(self, client, coordinator, versions):
        r = client.get(f"/api/v1/models/{versions['sd_good'].id}", headers=coordinator.headers)
        assert r.status_code == 200 and r.json()["status"] == "candidate" and r.json()["gate"]["promote"]


class TestPromote:
    def test_anonymous_and_forbidden(self, client, make_user, versions):
        url = f"/api/v1/models/{versions['sd_good'].id}/promote"
        assert client.post(url).status_code == 401
        assert client.post(url, headers=make_user("mentor").headers).status_code == 403

    def test_other_province_and_national_are_not_yours(self, client, coordinator, versions):
        for key in ("js", "cn"):
            r = client.post(f"/api/v1/models/{versions[key].id}/promote", headers=coordinator.headers)
            assert r.status_code == 404

    def test_refused_when_the_gate_did_not_pass(self, client, db, coordinator, versions):
        r = client.post(f"/api/v1/models/{versions['sd_bad'].id}/promote", headers=coordinator.headers)
        assert r.status_code == 409 and r.json()["code"] == "model_not_promotable"
        assert db.get(ModelVersion, versions["sd_active"].id).status == "active"

    def test_already_active(self, client, coordinator, versions):
        r = client.post(f"/api/v1/models/{versions['sd_active'].id}/promote", headers=coordinator.headers)
        assert r.status_code == 409 and r.json()["code"] == "model_already_active"

    def test_success_retires_the_previous_one(self, client, db, coordinator, versions):
        r = client.post(f"/api/v1/models/{versions['sd_good'].id}/promote", headers=coordinator.headers)
        assert r.status_code == 200 and r.json()["status"] == "active"
        db.expire_all()
        assert db.get(ModelVersion, versions["sd_active"].id).status == "retired"
        assert db.get(ModelVersion, versions["js"].id).status == "active"  # other jurisdictions untouched
        n_active = db.scalar(
            select(func.count())
            .select_from(ModelVersion)
            .where(ModelVersion.jurisdiction_code == SHANDONG, ModelVersion.status == "active")
        )
        assert n_active == 1


class TestRollback:
    def test_anonymous(self, client):
        assert client.post("/api/v1/models/rollback", json={}).status_code == 401

    def test_other_jurisdiction(self, client, coordinator, versions):
        r = client.post(
            "/api/v1/models/rollback", json={"jurisdiction_code": JIANGSU}, headers=coordinator.headers
        )
        assert r.status_code == 422 and r.json()["code"] == "region_outside_jurisdiction"

    def test_nothing_active(self, client, make_user):
        r = client.post("/api/v1/models/rollback", json={}, headers=make_user("coordinator", "53").headers)
        assert r.status_code == 409 and r.json()["code"] == "no_active_model"

    def test_back_to_the_previous_version_then_to_the_fallback(self, client, db, coordinator, versions):
        assert client.post(f"/api/v1/models/{versions['sd_good'].id}/promote", headers=coordinator.headers)
        back = client.post("/api/v1/models/rollback", json={}, headers=coordinator.headers)
        assert back.status_code == 200 and back.json()["active"]["version"] == "sd-1"
        db.expire_all()
        assert db.get(ModelVersion, versions["sd_good"].id).status == "retired"
        assert active_model(db, "371721").version == "sd-1"
        again = client.post("/api/v1/models/rollback", json={}, headers=coordinator.headers)
        assert again.status_code == 200 and again.json()["active"] is None
        db.expire_all()
        assert active_model(db, "371721").version == "cn-1"  # the national fallback


class TestRunsUseVersions:
    def test_pin_needs_a_visible_version(self, client, coordinator, versions):
        r = client.post(
            "/api/v1/matching-runs",
            json={"scope_code": "3717", "model_version_id": versions["js"].id},
            headers=coordinator.headers,
        )
        assert r.status_code == 422 and r.json()["code"] == "no_trained_model"

    def test_pin_a_candidate(self, client, db, coordinator, versions):
        r = client.post(
            "/api/v1/matching-runs",
            json={"scope_code": "3717", "model_version_id": versions["sd_bad"].id, "pairing": "mixed"},
            headers=coordinator.headers,
        )
        assert r.status_code == 202
        run = db.get(MatchingRun, r.json()["id"])
        assert run.model_version_id == versions["sd_bad"].id and run.policy["pairing"] == "mixed"

    def test_learned_ranker_means_the_active_version_never_the_newest(
        self, client, db, coordinator, versions
    ):
        r = client.post(
            "/api/v1/matching-runs",
            json={"scope_code": "3717", "use_learned_ranker": True},
            headers=coordinator.headers,
        )
        assert r.status_code == 202
        assert db.get(MatchingRun, r.json()["id"]).model_version_id == versions["sd_active"].id

    def test_bad_policy_values(self, client, coordinator):
        for body in ({"pairing": "random"}, {"exploration": 0.9}, {"chain_share": 2}):
            r = client.post(
                "/api/v1/matching-runs", json={"scope_code": "3717", **body}, headers=coordinator.headers
            )
            assert r.status_code == 422


def test_recommendations_use_the_active_version_of_the_newcomers_province(db, seeded, versions):
    cache = RecommenderCache()
    assert cache.get(db, "371721").index.reranker.version == "sd-1"
    assert cache.get(db, "530102").index.reranker.version == "cn-1"  # no Yunnan model: national
    db.execute(update(ModelVersion).values(status="retired"))
    db.flush()
    assert cache.get(db, "371721").index.reranker is None  # nothing active: the default scorer


def test_retrain_trains_on_own_province_and_the_gate_decides(client, db, seeded, make_user, drain):
    coordinator = make_user("coordinator", SHANDONG)
    run = client.post(
        "/api/v1/matching-runs", json={"scope_code": SHANDONG, "k": 5}, headers=coordinator.headers
    )
    assert run.status_code == 202
    drain()
    rows = list(db.scalars(select(Match).where(Match.run_id == run.json()["id"]).order_by(Match.id)))
    assert len(rows) >= 20
    for i, m in enumerate(rows):
        # A rule plus noise, so there is something (a little) to learn.
        m.status = "approved" if (m.score_parts["resources"] >= 0.5) != (i % 7 == 0) else "rejected"
        m.reason_code = None if m.status == "approved" else "not_complementary"
        m.decided_at = utcnow()
    db.commit()
    assert client.post("/api/v1/models/retrain", headers=coordinator.headers).status_code == 202
    drain()
    db.expire_all()
    model = db.scalar(select(ModelVersion))
    assert model.jurisdiction_code == SHANDONG and model.n_samples == len(rows)
    assert model.status in ("candidate", "active") and model.gate["reasons"]
    assert (model.status == "active") == bool(model.gate["promote"])
    assert np.isfinite(model.metrics["alpha"])
