"""Review queue, approval and rejection: jurisdiction, ETags, seats, idempotency."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.models import Match, MatchTransition, Mentor, MentorProduct, Newcomer
from tests.conftest import CAOXIAN, JIANGSU, SHANDONG

# Main product first: the position, not the code, sets the order.
TWO_PRODUCTS = ("flowers.seedlings", "flowers.pots_miniascape")


@pytest.fixture
def coordinator(make_user):
    return make_user("coordinator", SHANDONG)


def _etag(client, headers, match_id):
    r = client.get(f"/api/v1/proposals/{match_id}", headers=headers)
    assert r.status_code == 200, r.text
    return r.headers["etag"]


def _approve(client, headers, match_id, body=None, **extra_headers):
    h = {**headers, "If-Match": _etag(client, headers, match_id), **extra_headers}
    return client.post(f"/api/v1/proposals/{match_id}/approve", json=body or {}, headers=h)


class TestQueue:
    def test_only_the_newcomers_coordinator_sees_it(self, client, db, make_user, pair, coordinator):
        # Both profiles get a phone, so the masking below has something to mask.
        db.get(Mentor, pair.mentor_id).phone = "13912345678"
        db.get(Newcomer, pair.newcomer_id).phone = "13700001111"
        db.commit()
        items = client.get("/api/v1/proposals", headers=coordinator.headers).json()["items"]
        assert [p["id"] for p in items] == [pair.match_id]
        assert items[0]["mentor"]["phone"] == "139****5678"
        assert items[0]["newcomer"]["phone"] == "137****1111"
        other = make_user("coordinator", JIANGSU)  # the mentor's province: not the reviewer
        assert client.get("/api/v1/proposals", headers=other.headers).json()["items"] == []
        assert client.get(f"/api/v1/proposals/{pair.match_id}", headers=other.headers).status_code == 404
        county = make_user("coordinator", CAOXIAN)
        assert client.get(f"/api/v1/proposals/{pair.match_id}", headers=county.headers).status_code == 200

    def test_sorted_by_score_with_cursor(self, client, make_profiles, propose_pair, coordinator):
        make_mentor, make_newcomer = make_profiles
        mentor, _ = make_mentor(capacity=10)
        ids = [
            propose_pair(mentor, make_newcomer(with_account=False)[0], score=s).id for s in (0.2, 0.9, 0.5)
        ]
        first = client.get("/api/v1/proposals", params={"limit": 2}, headers=coordinator.headers).json()
        rest = client.get(
            "/api/v1/proposals",
            params={"limit": 2, "cursor": first["next_cursor"]},
            headers=coordinator.headers,
        ).json()
        assert [p["id"] for p in first["items"] + rest["items"]] == [ids[1], ids[2], ids[0]]

    def test_filter_by_newcomer(self, client, make_profiles, propose_pair, coordinator, make_user):
        make_mentor, make_newcomer = make_profiles
        mentor, _ = make_mentor(capacity=10)
        newcomers = [make_newcomer(with_account=False)[0] for _ in range(3)]
        ids = [propose_pair(mentor, n, score=0.5).id for n in newcomers]
        r = client.get("/api/v1/proposals", params={"newcomer": newcomers[1].id}, headers=coordinator.headers)
        assert r.status_code == 200 and [p["id"] for p in r.json()["items"]] == [ids[1]]
        # Still inside the jurisdiction only: another province's coordinator gets nothing for that newcomer.
        other = make_user("coordinator", JIANGSU)
        mine = client.get("/api/v1/proposals", params={"newcomer": newcomers[1].id}, headers=other.headers)
        assert mine.json()["items"] == []

    def test_page_items_equal_the_single_proposal(
        self, client, db, make_profiles, propose_pair, coordinator, pair
    ):
        # The page is built from plain rows without a validation pass; the single proposal goes
        # through ProposalRead. They must agree field for field: masked phones, products in order,
        # the track record with a past match, and a stored int score part read as a float.
        _, make_newcomer = make_profiles
        mentor = db.get(Mentor, pair.mentor_id)
        mentor.phone, mentor.honours, mentor.story = "13912345678", ["县级示范户"], "从一个大棚做起"
        mentor.products = [MentorProduct(category_code=c, position=i) for i, c in enumerate(TWO_PRODUCTS)]
        db.get(Newcomer, pair.newcomer_id).phone = "13700001111"
        past = propose_pair(mentor, make_newcomer(with_account=False)[0], score=0.3)
        past.status = "completed"
        db.get(Match, pair.match_id).score_parts = {"product": 1, "distance": 0.25}
        db.commit()
        items = client.get("/api/v1/proposals", headers=coordinator.headers).json()["items"]
        assert [p["id"] for p in items] == [pair.match_id]
        single = client.get(f"/api/v1/proposals/{pair.match_id}", headers=coordinator.headers).json()
        assert items[0] == single
        assert items[0]["mentor"]["products"] == list(TWO_PRODUCTS)
        assert items[0]["mentor"]["track_record"]["outcomes"] == {"completed": 1}
        assert [p["id"] for p in items[0]["mentor"]["track_record"]["past_matches"]] == [past.id]
        assert items[0]["mentor"]["phone"] == "139****5678"
        # A JSON number with a fraction, as the model writes it ("1.0", not "1").
        assert items[0]["score_parts"] == {"product": 1.0, "distance": 0.25}
        assert isinstance(items[0]["score_parts"]["product"], float)

    def test_parties_do_not_see_proposals(self, client, pair):
        assert (
            client.get(f"/api/v1/matches/{pair.match_id}", headers=pair.newcomer_user.headers).status_code
            == 404
        )
        assert client.get("/api/v1/me/matches", headers=pair.mentor_user.headers).json()["items"] == []


class TestApprove:
    def test_requires_if_match_and_rejects_stale(self, client, pair, coordinator):
        url = f"/api/v1/proposals/{pair.match_id}/approve"
        assert client.post(url, json={}, headers=coordinator.headers).status_code == 428
        stale = client.post(url, json={}, headers={**coordinator.headers, "If-Match": '"0"'})
        assert stale.status_code == 412
        # If-Match compares strongly (RFC 9110): the weak form of the current tag does not match.
        current = client.get(f"/api/v1/proposals/{pair.match_id}", headers=coordinator.headers).headers[
            "etag"
        ]
        weak = client.post(url, json={}, headers={**coordinator.headers, "If-Match": f"W/{current}"})
        assert weak.status_code == 412
        # `*` says only that the proposal exists: an approval from someone who never read it.
        for star in ("*", f"{current}, *"):
            any_tag = client.post(url, json={}, headers={**coordinator.headers, "If-Match": star})
            assert any_tag.status_code == 428 and "*" in any_tag.json()["detail"], star
        listed = client.post(url, json={}, headers={**coordinator.headers, "If-Match": f'"0", {current}'})
        assert listed.status_code == 200, listed.text

    def test_approve_takes_a_seat_and_logs(self, client, db, pair, coordinator):
        body = {
            "commitments": [
                {
                    "resource_type": "technology",
                    "area": "marketing_innovation",
                    "description": "每月一次直播复盘",
                    "cadence_days": 30,
                }
            ],
            "note": "同意",
        }
        r = _approve(client, coordinator.headers, pair.match_id, body)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "approved" and r.json()["suggested_commitments"][0]["cadence_days"] == 30
        db.expire_all()
        assert db.get(Mentor, pair.mentor_id).capacity_used == 1
        log = db.scalars(select(MatchTransition).where(MatchTransition.match_id == pair.match_id)).all()
        assert [(t.from_status, t.to_status, t.actor_id) for t in log] == [
            ("proposed", "approved", coordinator.id)
        ]
        again = _approve(client, coordinator.headers, pair.match_id)
        assert again.status_code == 409 and again.json()["code"] == "invalid_transition"
        # The note is addressed to the parties too (README): both read it on their match.
        for party in (pair.newcomer_user, pair.mentor_user):
            mine = client.get("/api/v1/me/matches", headers=party.headers).json()["items"]
            assert [(m["id"], m["reason_note"]) for m in mine] == [(pair.match_id, "同意")]

    def test_full_mentor_is_409(self, client, make_profiles, propose_pair, coordinator):
        make_mentor, make_newcomer = make_profiles
        mentor, _ = make_mentor(capacity=1)
        a = propose_pair(mentor, make_newcomer()[0])
        b = propose_pair(mentor, make_newcomer()[0])
        assert _approve(client, coordinator.headers, a.id).status_code == 200
        r = _approve(client, coordinator.headers, b.id)
        assert r.status_code == 409 and r.json()["code"] == "mentor_capacity_full"

    @pytest.mark.parametrize(
        ("change", "code"),
        [
            ("newcomer_deactivated", "newcomer_inactive"),
            ("mentor_deactivated", "mentor_inactive"),
            ("newcomer_moved", "party_moved"),
            ("mentor_moved", "party_moved"),
        ],
    )
    def test_a_party_changed_since_the_proposal_is_409(
        self, client, db, make_profiles, propose_pair, coordinator, change: str, code: str
    ):
        make_mentor, make_newcomer = make_profiles
        mentor, _ = make_mentor(capacity=2)
        newcomer, _ = make_newcomer()
        match = propose_pair(mentor, newcomer)
        mentor_row, newcomer_row = db.get(Mentor, mentor.id), db.get(Newcomer, newcomer.id)
        side, other = (
            (newcomer_row, mentor_row) if change.startswith("newcomer") else (mentor_row, newcomer_row)
        )
        if change.endswith("deactivated"):
            side.is_active = False
        else:  # into the other party's county: the separation the run kept no longer holds
            side.county_code = side.region_code = other.county_code
        db.commit()
        r = _approve(client, coordinator.headers, match.id)
        assert r.status_code == 409 and r.json()["code"] == code, r.text
        assert r.json()["detail"]
        db.expire_all()
        assert db.get(Match, match.id).status == "proposed"
        assert db.get(Mentor, mentor.id).capacity_used == 0

    def test_newcomer_with_a_mentor_is_409(self, client, db, make_profiles, propose_pair, coordinator):
        make_mentor, make_newcomer = make_profiles
        newcomer, _ = make_newcomer()
        a = propose_pair(make_mentor()[0], newcomer)
        b = propose_pair(make_mentor()[0], newcomer)
        assert _approve(client, coordinator.headers, a.id).status_code == 200
        r = _approve(client, coordinator.headers, b.id)
        assert r.status_code == 409 and r.json()["code"] == "newcomer_already_matched"
        db.expire_all()
        assert db.get(Mentor, b.mentor_id).capacity_used == 0  # the refused seat was given back
        assert db.get(Match, b.id).status == "proposed"

    def test_idempotency_key_replays(self, client, db, pair, coordinator):
        key = {"Idempotency-Key": "approve-0001-abc"}
        first = _approve(client, coordinator.headers, pair.match_id, {"note": "ok"}, **key)
        second = client.post(
            f"/api/v1/proposals/{pair.match_id}/approve",
            json={"note": "ok"},
            headers={**coordinator.headers, **key, "If-Match": '"1"'},
        )
        assert second.status_code == 200 and second.json() == first.json()
        assert second.headers["idempotent-replayed"] == "true"
        different = client.post(
            f"/api/v1/proposals/{pair.match_id}/approve",
            json={"note": "changed"},
            headers={**coordinator.headers, **key, "If-Match": '"1"'},
        )
        assert different.status_code == 422 and different.json()["code"] == "idempotency_key_reused"
        db.expire_all()
        assert db.get(Mentor, pair.mentor_id).capacity_used == 1

    def test_a_replay_is_answered_only_to_a_reviewer_of_the_proposal(self, client, db, pair, coordinator):
        from app.models import Account

        key = {"Idempotency-Key": "approve-0002-abc"}
        first = _approve(client, coordinator.headers, pair.match_id, {"note": "ok"}, **key)
        assert first.status_code == 200
        db.get(Account, coordinator.id).jurisdiction_code = "53"  # moved to Yunnan
        db.commit()
        again = client.post(
            f"/api/v1/proposals/{pair.match_id}/approve",
            json={"note": "ok"},
            headers={**coordinator.headers, **key, "If-Match": '"1"'},
        )
        assert again.status_code == 404 and "idempotent-replayed" not in again.headers
        assert "newcomer" not in again.text


class TestReject:
    def test_reason_required_from_fixed_list(self, client, db, pair, coordinator):
        h = {**coordinator.headers, "If-Match": _etag(client, coordinator.headers, pair.match_id)}
        bad = client.post(
            f"/api/v1/proposals/{pair.match_id}/reject", json={"reason_code": "dislike"}, headers=h
        )
        assert bad.status_code == 422
        ok = client.post(
            f"/api/v1/proposals/{pair.match_id}/reject",
            json={"reason_code": "too_far", "note": "物流太远"},
            headers=h,
        )
        assert ok.status_code == 200 and ok.json()["status"] == "rejected"
        row = db.get(Match, pair.match_id)
        assert (row.reason_code, row.reason_note) == ("too_far", "物流太远")

    def test_other_jurisdiction_cannot_reject(self, client, make_user, pair):
        other = make_user("coordinator", JIANGSU)
        r = client.post(
            f"/api/v1/proposals/{pair.match_id}/reject",
            json={"reason_code": "other"},
            headers={**other.headers, "If-Match": '"1"'},
        )
        assert r.status_code == 404


class TestExploration:
    def test_explored_proposal_is_flagged_with_its_propensity(
        self, client, db, make_profiles, propose_pair, coordinator
    ):
        make_mentor, make_newcomer = make_profiles
        mentor, _ = make_mentor(capacity=5)
        chosen = propose_pair(mentor, make_newcomer(with_account=False)[0], score=0.9)
        drawn = propose_pair(mentor, make_newcomer(with_account=False)[0], score=0.4)
        chosen.propensity = 0.95
        drawn.explored, drawn.propensity = True, 0.0125
        db.commit()
        items = client.get("/api/v1/proposals", headers=coordinator.headers).json()["items"]
        body = {p["id"]: p for p in items}
        assert (body[drawn.id]["explored"], body[drawn.id]["propensity"]) == (True, 0.0125)
        assert (body[chosen.id]["explored"], body[chosen.id]["propensity"]) == (False, 0.95)
        one = client.get(f"/api/v1/proposals/{drawn.id}", headers=coordinator.headers).json()
        assert one["explored"] is True and one["propensity"] == 0.0125

    def test_console_page_says_so(self, client, db, pair, coordinator):
        from tests.console.helpers import sign_in

        sign_in(client, coordinator.username)
        assert 'id="explored"' not in client.get(f"/console/proposals/{pair.match_id}").text
        match = db.get(Match, pair.match_id)
        match.explored, match.propensity = True, 0.0125
        db.commit()
        page = client.get(f"/console/proposals/{pair.match_id}?lang=en")
        assert page.status_code == 200
        assert 'id="explored"' in page.text and "0.013" in page.text


class TestPartyChanges:
    """A party who moves county or is deactivated takes their pending proposals out of the queue."""

    def _queue_ids(self, client, coordinator):
        return [p["id"] for p in client.get("/api/v1/proposals", headers=coordinator.headers).json()["items"]]

    def test_a_newcomer_moving_county_withdraws_the_proposal(self, client, db, pair, coordinator):
        assert self._queue_ids(client, coordinator) == [pair.match_id]
        url = f"/api/v1/newcomers/{pair.newcomer_id}"
        etag = client.get(url, headers=pair.newcomer_user.headers).headers["etag"]
        moved = client.patch(
            url, json={"region_code": "371702"}, headers={**pair.newcomer_user.headers, "If-Match": etag}
        )
        assert moved.status_code == 200, moved.text
        assert self._queue_ids(client, coordinator) == []
        db.expire_all()
        assert db.get(Match, pair.match_id).status == "superseded"
        log = db.scalars(select(MatchTransition).where(MatchTransition.match_id == pair.match_id)).all()
        assert [(t.from_status, t.to_status, t.actor_id, t.reason) for t in log] == [
            ("proposed", "superseded", pair.newcomer_user.id, "the party moved to another county")
        ]

    def test_an_edit_within_the_county_keeps_it(self, client, db, pair, coordinator):
        url = f"/api/v1/newcomers/{pair.newcomer_id}"
        etag = client.get(url, headers=pair.newcomer_user.headers).headers["etag"]
        same_county = client.patch(
            url, json={"region_code": CAOXIAN}, headers={**pair.newcomer_user.headers, "If-Match": etag}
        )
        assert same_county.status_code == 200, same_county.text
        assert self._queue_ids(client, coordinator) == [pair.match_id]

    def test_a_deactivated_mentor_withdraws_it(self, client, db, pair, coordinator, make_user):
        r = client.delete(f"/api/v1/mentors/{pair.mentor_id}", headers=pair.mentor_user.headers)
        assert r.status_code == 204, r.text
        assert self._queue_ids(client, coordinator) == []
        db.expire_all()
        assert db.get(Match, pair.match_id).status == "superseded"
