"""After approval: acceptance, decline, completion, cancellation, check-ins, overdue sweep, notifications."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.console.render import REASON_CODES
from app.db import china_today
from app.matches import reasons
from app.matches.commitments import sweep_overdue
from app.matches.reasons import reason_words
from app.models import Account, Commitment, Match, MatchTransition, Mentor, Newcomer, Notification
from tests.conftest import JIANGSU, SHANDONG


@pytest.fixture
def coordinator(make_user):
    return make_user("coordinator", SHANDONG)


@pytest.fixture
def approved(client, pair, coordinator):
    etag = client.get(f"/api/v1/proposals/{pair.match_id}", headers=coordinator.headers).headers["etag"]
    r = client.post(
        f"/api/v1/proposals/{pair.match_id}/approve",
        json={},
        headers={**coordinator.headers, "If-Match": etag},
    )
    assert r.status_code == 200, r.text
    return pair


@pytest.fixture
def active(client, approved):
    for user in (approved.mentor_user, approved.newcomer_user):
        assert (
            client.post(
                f"/api/v1/matches/{approved.match_id}/accept", json={}, headers=user.headers
            ).status_code
            == 200
        )
    return approved


def test_parties_see_approved_match_and_each_others_phone_only_when_active(client, db, approved):
    mine = client.get("/api/v1/me/matches", headers=approved.newcomer_user.headers).json()["items"]
    assert [m["id"] for m in mine] == [approved.match_id]
    mentor = db.get(Mentor, approved.mentor_id)
    mentor.phone = "13912345678"
    db.commit()
    body = client.get(f"/api/v1/matches/{approved.match_id}", headers=approved.newcomer_user.headers).json()
    assert body["mentor"]["phone"] == "139****5678"
    for user in (approved.mentor_user, approved.newcomer_user):
        client.post(f"/api/v1/matches/{approved.match_id}/accept", json={}, headers=user.headers)
    body = client.get(f"/api/v1/matches/{approved.match_id}", headers=approved.newcomer_user.headers).json()
    assert body["status"] == "active" and body["mentor"]["phone"] == "13912345678"


def test_stranger_and_office_cannot_see(client, make_user, approved):
    assert (
        client.get(f"/api/v1/matches/{approved.match_id}", headers=make_user("newcomer").headers).status_code
        == 404
    )
    office = make_user("township_office", "371721121")
    assert client.get(f"/api/v1/matches/{approved.match_id}", headers=office.headers).status_code == 403


def test_accepting_twice_or_before_approval(client, pair, approved, coordinator):
    url = f"/api/v1/matches/{approved.match_id}/accept"
    assert (
        client.post(url, json={}, headers=approved.newcomer_user.headers).json()["newcomer_accepted"] is True
    )
    assert client.post(url, json={}, headers=approved.newcomer_user.headers).json()["status"] == "approved"
    assert client.post(url, json={}, headers=approved.mentor_user.headers).json()["status"] == "active"
    # Retries of acceptances that counted (an app that lost the answer) get the active match, once.
    for user in (approved.mentor_user, approved.newcomer_user):
        r = client.post(url, json={}, headers=user.headers)
        assert r.status_code == 200 and r.json()["status"] == "active", r.text
    log = client.get(f"/api/v1/matches/{approved.match_id}/transitions", headers=coordinator.headers).json()
    assert [t["to_status"] for t in log].count("active") == 1


def test_staff_may_not_answer_for_a_party_with_an_account(client, approved, coordinator):
    r = client.post(
        f"/api/v1/matches/{approved.match_id}/accept",
        json={"on_behalf_of": "mentor"},
        headers=coordinator.headers,
    )
    assert r.status_code == 409 and r.json()["code"] == "party_has_account"


def test_decline_releases_seat_and_excludes_pair(client, db, approved):
    r = client.post(
        f"/api/v1/matches/{approved.match_id}/decline",
        json={"note": "太忙"},
        headers=approved.mentor_user.headers,
    )
    assert r.status_code == 200 and r.json()["status"] == "declined"
    db.expire_all()
    assert db.get(Mentor, approved.mentor_id).capacity_used == 0
    kinds = db.scalars(
        select(Notification.kind).where(Notification.account_id == approved.newcomer_user.id)
    ).all()
    assert "match_declined" in kinds


def test_staff_decline_for_a_party_without_an_account(
    client, db, make_user, make_profiles, propose_pair, coordinator
):
    # Only the parties could decline, so a match of a roster mentor could never be undone by anyone.
    make_mentor, make_newcomer = make_profiles
    mentor, _ = make_mentor(with_account=False)
    newcomer, newcomer_user = make_newcomer()
    match = propose_pair(mentor, newcomer)
    etag = client.get(f"/api/v1/proposals/{match.id}", headers=coordinator.headers).headers["etag"]
    approve = f"/api/v1/proposals/{match.id}/approve"
    assert client.post(approve, json={}, headers={**coordinator.headers, "If-Match": etag}).status_code == 200
    url = f"/api/v1/matches/{match.id}/decline"
    assert client.post(url, json={}, headers=coordinator.headers).status_code == 403  # for whom?
    has_account = client.post(url, json={"on_behalf_of": "newcomer"}, headers=coordinator.headers)
    assert has_account.status_code == 409 and has_account.json()["code"] == "party_has_account"
    outsider = make_user("coordinator", JIANGSU)
    assert client.post(url, json={"on_behalf_of": "mentor"}, headers=outsider.headers).status_code == 404
    r = client.post(url, json={"on_behalf_of": "mentor", "note": "电话联系不上"}, headers=coordinator.headers)
    assert r.status_code == 200 and r.json()["status"] == "declined"
    db.expire_all()
    assert db.get(Mentor, mentor.id).capacity_used == 0
    kinds = db.scalars(select(Notification.kind).where(Notification.account_id == newcomer_user.id)).all()
    assert "match_declined" in kinds


def test_activation_creates_commitments_and_notifies(client, db, active):
    commitments = db.scalars(select(Commitment).where(Commitment.match_id == active.match_id)).all()
    assert [(c.resource_type, c.cadence_days) for c in commitments] == [("logistics", 14)]
    # Due dates are China days: after 16:00 UTC the China date is already tomorrow.
    assert commitments[0].next_due == china_today() + timedelta(days=14)
    feed = client.get("/api/v1/me/notifications", headers=active.mentor_user.headers).json()
    assert [n["kind"] for n in feed["items"]] == ["proposal_approved", "match_active"]
    later = client.get(
        "/api/v1/me/notifications", params={"after": feed["next_after"]}, headers=active.mentor_user.headers
    ).json()
    assert later["items"] == [] and later["next_after"] == feed["next_after"]


def test_check_ins_only_by_parties_of_active_matches(client, db, make_user, active, coordinator):
    cid = db.scalar(select(Commitment.id).where(Commitment.match_id == active.match_id))
    url = f"/api/v1/commitments/{cid}/check-ins"
    assert (
        client.post(url, json={"outcome": "done"}, headers=make_user("newcomer").headers).status_code == 404
    )
    assert (
        client.post(url, json={"outcome": "sort of"}, headers=active.newcomer_user.headers).status_code == 422
    )
    bad_link = {"outcome": "done", "evidence_url": "javascript:alert(1)"}
    assert client.post(url, json=bad_link, headers=active.newcomer_user.headers).status_code == 422
    ok = client.post(
        url,
        json={"outcome": "partial", "evidence_url": "https://example.org/photo.jpg"},
        headers=active.mentor_user.headers,
    )
    assert ok.status_code == 201
    db.expire_all()
    assert db.get(Mentor, active.mentor_id).fulfilment_rate == 0.5
    client.post(f"/api/v1/matches/{active.match_id}/complete", headers=coordinator.headers)
    late = client.post(url, json={"outcome": "done"}, headers=active.mentor_user.headers)
    assert late.status_code == 409 and late.json()["code"] == "match_not_active"


def test_overdue_sweep_counts_missed_once_and_notifies(db, active):
    commitment = db.scalar(select(Commitment).where(Commitment.match_id == active.match_id))
    commitment.next_due = china_today() - timedelta(days=20)  # one full 14-day period and part of another
    db.commit()
    assert sweep_overdue(db) == {"overdue": 1, "due_today": 0}
    assert sweep_overdue(db) == {"overdue": 0, "due_today": 0}
    db.expire_all()
    row = db.get(Commitment, commitment.id)
    assert row.missed_count == 2 and row.next_due > china_today()
    assert db.get(Mentor, active.mentor_id).fulfilment_rate == 0.0
    overdue = db.scalars(select(Notification).where(Notification.kind == "check_in_overdue")).all()
    assert {n.account_id for n in overdue} == {active.mentor_user.id, active.newcomer_user.id}


def test_complete_by_coordinator_only_and_cancel_by_party(client, db, active, coordinator):
    assert (
        client.post(
            f"/api/v1/matches/{active.match_id}/complete", headers=active.mentor_user.headers
        ).status_code
        == 403
    )
    r = client.post(
        f"/api/v1/matches/{active.match_id}/cancel",
        json={"reason_code": "mutual_agreement"},
        headers=active.newcomer_user.headers,
    )
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    db.expire_all()
    assert db.get(Mentor, active.mentor_id).capacity_used == 0
    log = client.get(f"/api/v1/matches/{active.match_id}/transitions", headers=coordinator.headers).json()
    assert [(t["from_status"], t["to_status"]) for t in log] == [
        ("proposed", "approved"),
        ("approved", "active"),
        ("active", "cancelled"),
    ]
    assert log[-1]["reason"].startswith("mutual_agreement")
    assert db.get(Match, active.match_id).status == "cancelled"


class TestADeactivatedParty:
    """No pairing begins with a party who was deactivated: approval, acceptance and the seat agree."""

    @pytest.mark.parametrize("side", ["newcomer", "mentor"])
    def test_deactivation_cancels_the_approved_match_and_frees_the_seat(self, client, db, approved, side):
        user = approved.newcomer_user if side == "newcomer" else approved.mentor_user
        profile_id = approved.newcomer_id if side == "newcomer" else approved.mentor_id
        assert db.get(Mentor, approved.mentor_id).capacity_used == 1
        assert client.delete(f"/api/v1/{side}s/{profile_id}", headers=user.headers).status_code == 204
        db.expire_all()
        match = db.get(Match, approved.match_id)
        assert match.status == "cancelled"
        assert db.get(Mentor, approved.mentor_id).capacity_used == 0
        log = db.scalars(select(MatchTransition).where(MatchTransition.match_id == match.id)).all()
        assert [(t.from_status, t.to_status, t.reason) for t in log][-1] == (
            "approved",
            "cancelled",
            reasons.PARTY_DEACTIVATED,
        )
        other = approved.mentor_user if side == "newcomer" else approved.newcomer_user
        kinds = db.scalars(select(Notification.kind).where(Notification.account_id == other.id)).all()
        assert "match_ended" in kinds
        for party in (approved.mentor_user, approved.newcomer_user):
            r = client.post(f"/api/v1/matches/{match.id}/accept", json={}, headers=party.headers)
            assert r.status_code == 409 and r.json()["code"] == "invalid_transition"
        assert not db.scalars(select(Commitment).where(Commitment.match_id == match.id)).all()

    @pytest.mark.parametrize("side", ["newcomer", "mentor"])
    def test_deactivating_the_account_cancels_the_approved_match(self, client, db, make_user, approved, side):
        # The match was stuck: staff may not answer for a party with an account, and cancel takes
        # active matches only, so the mentor's seat stayed taken.
        user = approved.newcomer_user if side == "newcomer" else approved.mentor_user
        admin = make_user("admin")
        r = client.patch(f"/api/v1/accounts/{user.id}", json={"is_active": False}, headers=admin.headers)
        assert r.status_code == 200, r.text
        db.expire_all()
        assert db.get(Match, approved.match_id).status == "cancelled"
        assert db.get(Mentor, approved.mentor_id).capacity_used == 0
        last = db.scalars(
            select(MatchTransition)
            .where(MatchTransition.match_id == approved.match_id)
            .order_by(MatchTransition.id)
        ).all()[-1]
        assert (last.to_status, last.reason, last.actor_id) == (
            "cancelled",
            reasons.PARTY_DEACTIVATED,
            admin.id,
        )

    @pytest.mark.parametrize("side", ["newcomer", "mentor"])
    def test_approval_and_acceptance_refuse_a_party_whose_account_is_inactive(
        self, client, db, pair, coordinator, side
    ):
        # Deactivated some other way than the accounts route: the rule is asked at each step.
        user = pair.newcomer_user if side == "newcomer" else pair.mentor_user
        db.get(Account, user.id).is_active = False
        db.commit()
        url = f"/api/v1/proposals/{pair.match_id}"
        etag = client.get(url, headers=coordinator.headers).headers["etag"]
        r = client.post(f"{url}/approve", json={}, headers={**coordinator.headers, "If-Match": etag})
        assert r.status_code == 409 and r.json()["code"] == f"{side}_inactive", r.text
        db.expire_all()
        assert db.get(Mentor, pair.mentor_id).capacity_used == 0
        assert db.get(Match, pair.match_id).status == "proposed"

    def test_an_active_match_goes_on(self, client, db, active):
        user = active.newcomer_user
        assert (
            client.delete(f"/api/v1/newcomers/{active.newcomer_id}", headers=user.headers).status_code == 204
        )
        db.expire_all()
        assert db.get(Match, active.match_id).status == "active"
        assert db.get(Mentor, active.mentor_id).capacity_used == 1

    @pytest.mark.parametrize("side", ["newcomer", "mentor"])
    def test_acceptance_refuses_an_inactive_party(self, client, db, approved, side):
        # A party deactivated some other way than the profile route (a script, data from before the rule).
        model = Newcomer if side == "newcomer" else Mentor
        db.get(model, approved.newcomer_id if side == "newcomer" else approved.mentor_id).is_active = False
        db.commit()
        url = f"/api/v1/matches/{approved.match_id}/accept"
        assert client.post(url, json={}, headers=approved.mentor_user.headers).status_code == 409
        r = client.post(url, json={}, headers=approved.newcomer_user.headers)
        assert r.status_code == 409 and r.json()["code"] == f"{side}_inactive"
        db.expire_all()
        assert db.get(Match, approved.match_id).status == "approved"
        assert not db.get(Match, approved.match_id).newcomer_accepted

    def test_an_approved_match_is_not_cancelled_through_the_api(self, client, db, approved):
        r = client.post(
            f"/api/v1/matches/{approved.match_id}/cancel",
            json={"reason_code": "mutual_agreement"},
            headers=approved.newcomer_user.headers,
        )
        assert r.status_code == 409 and r.json()["code"] == "invalid_transition"
        db.expire_all()
        assert db.get(Match, approved.match_id).status == "approved"


def test_an_approval_note_is_stored_as_a_note(client, db, pair, coordinator):
    # A note that spells one of the service's own reasons must not read back as the service's.
    etag = client.get(f"/api/v1/proposals/{pair.match_id}", headers=coordinator.headers).headers["etag"]
    r = client.post(
        f"/api/v1/proposals/{pair.match_id}/approve",
        json={"note": reasons.PARTY_DEACTIVATED},
        headers={**coordinator.headers, "If-Match": etag},
    )
    assert r.status_code == 200, r.text
    log = client.get(f"/api/v1/matches/{pair.match_id}/transitions", headers=coordinator.headers).json()
    assert log[-1]["reason"] == f"note: {reasons.PARTY_DEACTIVATED}"
    assert reason_words(log[-1]["reason"], "zh-CN", REASON_CODES) == f"备注：{reasons.PARTY_DEACTIVATED}"
