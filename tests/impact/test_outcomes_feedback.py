"""Outcomes through the match lifecycle (baseline, milestones, before/after) and rating privacy."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import or_, select

from app.db import china_today
from app.models import CategoryLink, Match, MatchOutcome, MatchRating
from tests.conftest import SHANDONG


@pytest.fixture
def coordinator(make_user):
    return make_user("coordinator", SHANDONG)


@pytest.fixture
def active(client, pair, coordinator):
    etag = client.get(f"/api/v1/proposals/{pair.match_id}", headers=coordinator.headers).headers["etag"]
    r = client.post(
        f"/api/v1/proposals/{pair.match_id}/approve",
        json={},
        headers={**coordinator.headers, "If-Match": etag},
    )
    assert r.status_code == 200, r.text
    for user in (pair.mentor_user, pair.newcomer_user):
        assert (
            client.post(f"/api/v1/matches/{pair.match_id}/accept", json={}, headers=user.headers).status_code
            == 200
        )
    return pair


def outcome_url(match_id: int, rest: str = "") -> str:
    return f"/api/v1/matches/{match_id}/outcome{rest}"


class TestBaseline:
    def test_recorded_when_the_match_becomes_active(self, client, db, pair, active):
        row = db.get(MatchOutcome, active.match_id)
        assert row is not None and row.activated_on == china_today()
        linked = db.scalar(
            select(CategoryLink.upstream_code).where(
                or_(
                    (CategoryLink.upstream_code == "flowers.seedlings")
                    & (CategoryLink.downstream_code == "flowers.pots_miniascape"),
                    (CategoryLink.upstream_code == "flowers.pots_miniascape")
                    & (CategoryLink.downstream_code == "flowers.seedlings"),
                )
            )
        )
        assert row.pairing_type == ("chain" if linked else "same_trade")
        body = client.get(outcome_url(active.match_id), headers=active.mentor_user.headers).json()
        assert body["baseline"] == {
            "has_store": False,
            "channels": [],
            "orders_per_month": 0,
            "sales_band": None,
        }
        assert body["after"]["days_to_first_sale"] is None and body["milestones"] == []

    @pytest.mark.parametrize(
        ("end", "body", "ended_as"),
        [("complete", None, "completed"), ("cancel", {"reason_code": "other"}, "cancelled")],
    )
    def test_carries_the_parties_and_how_the_match_ended(
        self, client, db, active, coordinator, end, body, ended_as
    ):
        """Reports aggregate the outcome row alone: it must agree with its match."""
        match = db.get(Match, active.match_id)
        row = db.get(MatchOutcome, active.match_id)
        assert (row.newcomer_id, row.mentor_id, row.newcomer_county_code, row.mentor_county_code) == (
            match.newcomer_id,
            match.mentor_id,
            match.newcomer_county_code,
            match.mentor_county_code,
        )
        assert row.ended_as is None
        r = client.post(f"/api/v1/matches/{active.match_id}/{end}", json=body, headers=coordinator.headers)
        assert r.status_code == 200, r.text
        db.expire_all()
        assert (
            db.get(MatchOutcome, active.match_id).ended_as
            == ended_as
            == db.get(Match, active.match_id).status
        )

    def test_not_before_activation(self, client, db, pair, coordinator):
        assert db.get(MatchOutcome, pair.match_id) is None
        assert client.get(outcome_url(pair.match_id), headers=coordinator.headers).status_code == 404

    def test_newcomer_corrects_the_baseline_until_a_milestone(self, client, active):
        headers = active.newcomer_user.headers
        baseline = {"has_store": True, "channels": ["pinduoduo"], "orders_per_month": 4, "sales_band": "lt10"}
        r = client.put(outcome_url(active.match_id, "/baseline"), json=baseline, headers=headers)
        assert r.status_code == 200 and r.json()["baseline"] == baseline
        today = china_today().isoformat()
        milestone = {"kind": "monthly", "on_date": today, "orders_per_month": 10, "sales_band": "10-50"}
        assert (
            client.post(
                outcome_url(active.match_id, "/milestones"), json=milestone, headers=headers
            ).status_code
            == 201
        )
        r = client.put(outcome_url(active.match_id, "/baseline"), json=baseline, headers=headers)
        assert r.status_code == 409 and r.json()["code"] == "baseline_locked"


class TestMilestones:
    def test_before_and_after(self, client, db, active):
        headers = active.newcomer_user.headers
        row = db.get(MatchOutcome, active.match_id)
        start = china_today() - timedelta(days=40)
        row.activated_on = start  # as if the pair had started 40 days ago
        db.commit()
        url = outcome_url(active.match_id, "/milestones")
        posts = [
            {"kind": "store_opened", "on_date": (start - timedelta(days=3)).isoformat(), "channel": "douyin"},
            {"kind": "first_sale", "on_date": (start + timedelta(days=25)).isoformat()},
            {"kind": "first_sale", "on_date": (start + timedelta(days=12)).isoformat()},
            {"kind": "monthly", "on_date": (start + timedelta(days=30)).isoformat(), "orders_per_month": 18},
            {"kind": "monthly", "on_date": (start + timedelta(days=10)).isoformat(), "orders_per_month": 3},
        ]
        for body in posts:
            r = client.post(url, json=body, headers=headers)
            assert r.status_code == 201, r.text
        after = r.json()["after"]
        # The earliest first sale counts; the latest monthly figure counts; the baseline had 0 orders.
        assert after["days_to_first_sale"] == 12
        assert after["latest_orders_per_month"] == 18 and after["orders_growth"] == 18
        assert after["store_channel"] == "douyin"
        assert len(r.json()["milestones"]) == 5

    def test_staff_report_on_behalf_and_mentor_may_not(self, client, active, coordinator):
        url = outcome_url(active.match_id, "/milestones")
        body = {"kind": "first_sale", "on_date": china_today().isoformat()}
        r = client.post(url, json=body, headers=active.mentor_user.headers)
        assert r.status_code == 403
        assert (
            client.post(url, json=body, headers=coordinator.headers).status_code == 403
        )  # must say on_behalf
        r = client.post(url, json={**body, "on_behalf": True}, headers=coordinator.headers)
        assert r.status_code == 201 and r.json()["milestones"][0]["on_behalf"] is True
        assert r.json()["after"]["days_to_first_sale"] == 0

    def test_today_is_the_china_day(self, client, active, monkeypatch):
        # 23:30 UTC is 07:30 the next morning in Beijing: a sale made that morning is not "in the future".
        import app.db

        evening = app.db.utcnow().replace(hour=23, minute=30)
        monkeypatch.setattr(app.db, "utcnow", lambda: evening)
        beijing_day = evening.date() + timedelta(days=1)
        body = {"kind": "first_sale", "on_date": beijing_day.isoformat()}
        r = client.post(
            outcome_url(active.match_id, "/milestones"), json=body, headers=active.newcomer_user.headers
        )
        assert r.status_code == 201, r.text
        tomorrow = {"kind": "first_sale", "on_date": (beijing_day + timedelta(days=1)).isoformat()}
        r = client.post(
            outcome_url(active.match_id, "/milestones"), json=tomorrow, headers=active.newcomer_user.headers
        )
        assert r.status_code == 422 and r.json()["code"] == "milestone_in_future"

    def test_outsiders_see_nothing(self, client, make_user, active):
        for user in (make_user("newcomer"), make_user("coordinator", "53")):
            assert client.get(outcome_url(active.match_id), headers=user.headers).status_code == 404

    @pytest.mark.parametrize(
        ("body", "code"),
        [
            ({"kind": "first_sale", "on_date": "2999-01-01"}, "milestone_in_future"),
            ({"kind": "first_sale", "on_date": "2020-01-01"}, "milestone_before_activation"),
            ({"kind": "store_opened", "on_date": "2020-01-01"}, "channel_required"),
            ({"kind": "store_opened", "on_date": "0001-01-01", "channel": "douyin"}, "milestone_too_early"),
            ({"kind": "store_opened", "on_date": "1999-12-31", "channel": "douyin"}, "milestone_too_early"),
            ({"kind": "monthly", "on_date": "TODAY"}, "orders_required"),
            ({"kind": "first_sale", "on_date": "TODAY", "orders_per_month": 3}, "validation_failed"),
            ({"kind": "monthly", "on_date": "TODAY", "orders_per_month": -1}, "validation_failed"),
            ({"kind": "harvest", "on_date": "TODAY"}, "validation_failed"),
        ],
    )
    def test_bad_inputs(self, client, active, body, code):
        body = {k: (china_today().isoformat() if v == "TODAY" else v) for k, v in body.items()}
        r = client.post(
            outcome_url(active.match_id, "/milestones"), json=body, headers=active.newcomer_user.headers
        )
        assert r.status_code == 422 and r.json()["code"] == code


class TestRatings:
    def rate(self, client, match_id, user, **body):
        payload = {"score": 4, "reason_code": "useful_knowhow", "comment": "", **body}
        return client.post(f"/api/v1/matches/{match_id}/ratings", json=payload, headers=user.headers)

    def test_only_once_the_match_has_ended(self, client, active):
        r = self.rate(client, active.match_id, active.newcomer_user)
        assert r.status_code == 409 and r.json()["code"] == "match_not_ended"

    def test_privacy_of_free_text(self, client, db, active, coordinator):
        assert (
            client.post(
                f"/api/v1/matches/{active.match_id}/complete", headers=coordinator.headers
            ).status_code
            == 200
        )
        mine = self.rate(client, active.match_id, active.newcomer_user, score=5, comment="导师很用心")
        assert mine.status_code == 201 and mine.json()["party"] == "newcomer"
        theirs = self.rate(
            client, active.match_id, active.mentor_user, score=2, reason_code="other", comment="不太配合"
        )
        assert theirs.status_code == 201 and theirs.json()["party"] == "mentor"
        url = f"/api/v1/matches/{active.match_id}/ratings"
        newcomer_view = client.get(url, headers=active.newcomer_user.headers).json()
        assert [(r["party"], r["comment"]) for r in newcomer_view] == [("newcomer", "导师很用心")]
        mentor_view = client.get(url, headers=active.mentor_user.headers).json()
        assert [(r["party"], r["comment"]) for r in mentor_view] == [("mentor", "不太配合")]
        staff_view = client.get(url, headers=coordinator.headers).json()
        assert sorted((r["party"], r["score"], r["comment"]) for r in staff_view) == [
            ("mentor", 2, "不太配合"),
            ("newcomer", 5, "导师很用心"),
        ]
        stored = db.scalars(
            select(MatchRating.mentor_id).where(MatchRating.match_id == active.match_id)
        ).all()
        assert stored == [active.mentor_id, active.mentor_id]

    def test_twice_and_bad_inputs_and_strangers(self, client, active, coordinator, make_user):
        client.post(
            f"/api/v1/matches/{active.match_id}/cancel",
            json={"reason_code": "other"},
            headers=coordinator.headers,
        )
        assert self.rate(client, active.match_id, active.newcomer_user).status_code == 201
        again = self.rate(client, active.match_id, active.newcomer_user)
        assert again.status_code == 409 and again.json()["code"] == "already_rated"
        for body in ({"score": 6}, {"score": 0}, {"reason_code": "vibes"}, {"comment": "x" * 2001}):
            r = self.rate(client, active.match_id, active.mentor_user, **body)
            assert r.status_code == 422, body
        assert self.rate(client, active.match_id, make_user("mentor")).status_code == 404
        assert (
            client.post(
                f"/api/v1/matches/{active.match_id}/ratings",
                json={"score": 3, "reason_code": "other"},
                headers=coordinator.headers,
            ).status_code
            == 403
        )
        assert self.rate(client, 999999, active.newcomer_user).status_code == 404
