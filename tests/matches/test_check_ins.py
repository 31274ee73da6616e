"""Check-ins: one report per party per commitment period; staff report for a party without an account."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.db import china_midnight, china_today
from app.matches.commitments import sweep_overdue
from app.models import CheckIn, Commitment, Mentor
from tests.conftest import SHANDONG


@pytest.fixture
def coordinator(make_user):
    return make_user("coordinator", SHANDONG)


def _activate(client, match_id, coordinator, parties) -> None:
    """Approve a proposal and accept it for each party (a user, or a side staff answers for)."""
    etag = client.get(f"/api/v1/proposals/{match_id}", headers=coordinator.headers).headers["etag"]
    r = client.post(
        f"/api/v1/proposals/{match_id}/approve", json={}, headers={**coordinator.headers, "If-Match": etag}
    )
    assert r.status_code == 200, r.text
    for party in parties:
        if isinstance(party, str):
            r = client.post(
                f"/api/v1/matches/{match_id}/accept",
                json={"on_behalf_of": party},
                headers=coordinator.headers,
            )
        else:
            r = client.post(f"/api/v1/matches/{match_id}/accept", json={}, headers=party.headers)
        assert r.status_code == 200, r.text
    assert r.json()["status"] == "active"


@pytest.fixture
def active(client, pair, coordinator):
    _activate(client, pair.match_id, coordinator, [pair.mentor_user, pair.newcomer_user])
    return pair


@pytest.fixture
def no_mentor_account(client, make_profiles, propose_pair, coordinator):
    """An active match whose mentor has no account (the newcomer has one)."""
    make_mentor, make_newcomer = make_profiles
    mentor, _ = make_mentor(with_account=False)
    newcomer, newcomer_user = make_newcomer()
    match = propose_pair(mentor, newcomer)
    _activate(client, match.id, coordinator, ["mentor", newcomer_user])
    return match.id, mentor.id, newcomer_user


def _commitment(db, match_id: int) -> Commitment:
    return db.scalar(select(Commitment).where(Commitment.match_id == match_id))


def _rows(db, commitment_id: int) -> list[CheckIn]:
    db.expire_all()
    return list(
        db.scalars(select(CheckIn).where(CheckIn.commitment_id == commitment_id).order_by(CheckIn.id))
    )


class TestOneReportPerPartyPerPeriod:
    def test_twenty_done_reports_in_one_period_count_once(self, client, db, active):
        commitment = _commitment(db, active.match_id)
        commitment.next_due = china_today() - timedelta(days=1)  # one period already lapsed
        db.commit()
        assert sweep_overdue(db)["overdue"] == 1
        url = f"/api/v1/commitments/{commitment.id}/check-ins"
        codes = [
            client.post(url, json={"outcome": "done"}, headers=active.mentor_user.headers).status_code
            for _ in range(20)
        ]
        assert codes == [201] + [200] * 19
        rows = _rows(db, commitment.id)
        assert [(r.party, r.outcome) for r in rows] == [("mentor", "done")]
        row = db.get(Commitment, commitment.id)
        assert (row.done_count, row.partial_count, row.missed_count) == (1, 0, 1)
        # One done period against one missed one, not 20 of 21.
        assert db.get(Mentor, active.mentor_id).fulfilment_rate == 0.5

    def test_a_later_report_replaces_the_earlier_one(self, client, db, active):
        cid = _commitment(db, active.match_id).id
        url = f"/api/v1/commitments/{cid}/check-ins"
        first = client.post(
            url, json={"outcome": "done", "note": "发了货"}, headers=active.mentor_user.headers
        )
        assert first.status_code == 201
        again = client.post(
            url, json={"outcome": "missed", "note": "其实没发"}, headers=active.mentor_user.headers
        )
        assert again.status_code == 200
        assert again.json()["id"] == first.json()["id"] and again.json()["note"] == "其实没发"
        rows = _rows(db, cid)
        assert [(r.outcome, r.note) for r in rows] == [("missed", "其实没发")]
        row = db.get(Commitment, cid)
        assert (row.done_count, row.missed_count) == (0, 1)
        assert db.get(Mentor, active.mentor_id).fulfilment_rate == 0.0

    def test_each_party_and_each_period_has_its_own_report(self, client, db, active):
        commitment = _commitment(db, active.match_id)
        url = f"/api/v1/commitments/{commitment.id}/check-ins"
        for user in (active.mentor_user, active.newcomer_user):
            r = client.post(url, json={"outcome": "done"}, headers=user.headers)
            assert r.status_code == 201
        # Move the start back one cadence and a day: today now falls in the second period, past its first
        # day (the due day of the first, when a report may still be for that one).
        commitment = db.get(Commitment, commitment.id)
        commitment.created_at = commitment.created_at - timedelta(days=commitment.cadence_days + 1)
        db.commit()
        r = client.post(url, json={"outcome": "partial"}, headers=active.mentor_user.headers)
        assert r.status_code == 201 and r.json()["period"] == 1
        assert [(x.party, x.period, x.outcome) for x in _rows(db, commitment.id)] == [
            ("mentor", 0, "done"),
            ("newcomer", 0, "done"),
            ("mentor", 1, "partial"),
        ]
        row = db.get(Commitment, commitment.id)
        assert (row.done_count, row.partial_count) == (2, 1)


class TestPeriodsOnTheCalendar:
    """Periods are fixed windows from the commitment's start; a report is due on the next period's first
    day; a period counts missed only once that day has passed without a report, and only once."""

    @pytest.fixture
    def clock(self, monkeypatch, db, active):
        """Move the service's China day; day(n) is the commitment's start plus n days."""
        from app.matches import commitments as module

        real = module.china_today
        commitment = _commitment(db, active.match_id)
        start, cadence = real(commitment.created_at), commitment.cadence_days

        def move(days: int):
            day = start + timedelta(days=days)
            monkeypatch.setattr(module, "china_today", lambda now=None: day if now is None else real(now))
            # Reports are stamped on that day too (noon in China).
            monkeypatch.setattr(module, "utcnow", lambda: china_midnight(day) + timedelta(hours=12))
            return day

        return commitment.id, cadence, move

    def _report(self, client, user, cid, outcome="done"):
        r = client.post(
            f"/api/v1/commitments/{cid}/check-ins", json={"outcome": outcome}, headers=user.headers
        )
        assert r.status_code in (200, 201), r.text
        return r.json()

    def _counts(self, db, cid):
        db.expire_all()
        row = db.get(Commitment, cid)
        return row.done_count, row.partial_count, row.missed_count

    def test_an_early_report_does_not_make_the_next_period_overdue(self, client, db, active, clock):
        cid, c, move = clock
        move(1)
        assert self._report(client, active.mentor_user, cid)["period"] == 0
        # The next period runs its full length: not overdue on its second day, nor on its last.
        for day in (c + 1, 2 * c - 1, 2 * c):
            assert sweep_overdue(db, today=move(day))["overdue"] == 0
            listed = client.get(
                f"/api/v1/matches/{active.match_id}/commitments", headers=active.mentor_user.headers
            )
            assert listed.json()[0]["overdue"] is False
        move(c + 5)
        assert self._report(client, active.mentor_user, cid)["period"] == 1
        assert self._counts(db, cid) == (2, 0, 0)

    def test_a_report_on_the_due_day_is_for_the_period_due(self, client, db, active, clock):
        cid, c, move = clock
        move(c)  # the first day of period 1, the due day of period 0, nobody has reported
        assert self._report(client, active.mentor_user, cid)["period"] == 0
        # A correction the same day replaces it; the other party's report that day is for it too.
        assert self._report(client, active.mentor_user, cid, "partial")["period"] == 0
        assert self._report(client, active.newcomer_user, cid)["period"] == 0
        assert [(r.party, r.period, r.outcome) for r in _rows(db, cid)] == [
            ("mentor", 0, "partial"),
            ("newcomer", 0, "done"),
        ]
        assert sweep_overdue(db, today=move(c + 1))["overdue"] == 0
        assert self._counts(db, cid) == (1, 1, 0)
        move(c + 3)
        assert self._report(client, active.mentor_user, cid)["period"] == 1

    def test_periods_lapsed_before_a_report_are_missed_once(self, client, db, active, clock):
        cid, c, move = clock
        move(3 * c + 2)  # periods 0, 1 and 2 passed their due days; the sweep has not run
        assert self._report(client, active.mentor_user, cid)["period"] == 3
        assert self._counts(db, cid) == (1, 0, 3)
        assert sweep_overdue(db, today=move(3 * c + 3))["overdue"] == 0
        assert sweep_overdue(db, today=move(4 * c + 1))["overdue"] == 0
        assert self._counts(db, cid) == (1, 0, 3)
        # Period 4 unreported: missed the day after its due day, once.
        assert sweep_overdue(db, today=move(5 * c + 1))["overdue"] == 1
        assert sweep_overdue(db, today=move(5 * c + 2))["overdue"] == 0
        assert self._counts(db, cid) == (1, 0, 4)


class TestStaffReportOnBehalf:
    def test_coordinator_reports_for_the_party_without_an_account(
        self, client, db, no_mentor_account, coordinator
    ):
        match_id, mentor_id, _ = no_mentor_account
        cid = _commitment(db, match_id).id
        r = client.post(
            f"/api/v1/commitments/{cid}/check-ins",
            json={"outcome": "done", "on_behalf_of": "mentor"},
            headers=coordinator.headers,
        )
        assert r.status_code == 201, r.text
        assert r.json()["party"] == "mentor" and r.json()["author_id"] == coordinator.id
        db.expire_all()
        assert db.get(Mentor, mentor_id).fulfilment_rate == 1.0

    def test_admin_may_report_on_behalf(self, client, db, make_user, no_mentor_account):
        cid = _commitment(db, no_mentor_account[0]).id
        r = client.post(
            f"/api/v1/commitments/{cid}/check-ins",
            json={"outcome": "partial", "on_behalf_of": "mentor"},
            headers=make_user("admin").headers,
        )
        assert r.status_code == 201 and r.json()["party"] == "mentor"

    def test_refused_for_a_party_with_an_account(self, client, db, no_mentor_account, coordinator):
        cid = _commitment(db, no_mentor_account[0]).id
        r = client.post(
            f"/api/v1/commitments/{cid}/check-ins",
            json={"outcome": "done", "on_behalf_of": "newcomer"},
            headers=coordinator.headers,
        )
        assert r.status_code == 409 and r.json()["code"] == "party_has_account"
        assert _rows(db, cid) == []

    def test_refused_for_staff_outside_the_jurisdiction(self, client, db, make_user, no_mentor_account):
        cid = _commitment(db, no_mentor_account[0]).id
        elsewhere = make_user("coordinator", "32")  # Jiangsu: the mentor's province, not the newcomer's
        r = client.post(
            f"/api/v1/commitments/{cid}/check-ins",
            json={"outcome": "done", "on_behalf_of": "mentor"},
            headers=elsewhere.headers,
        )
        assert r.status_code == 404
        assert _rows(db, cid) == []

    def test_a_party_may_not_report_on_behalf(self, client, db, no_mentor_account):
        match_id, _, newcomer_user = no_mentor_account
        cid = _commitment(db, match_id).id
        r = client.post(
            f"/api/v1/commitments/{cid}/check-ins",
            json={"outcome": "done", "on_behalf_of": "mentor"},
            headers=newcomer_user.headers,
        )
        assert r.status_code == 403 and r.json()["code"] == "not_match_staff"

    def test_staff_without_on_behalf_of_is_refused(self, client, db, no_mentor_account, coordinator):
        cid = _commitment(db, no_mentor_account[0]).id
        r = client.post(
            f"/api/v1/commitments/{cid}/check-ins", json={"outcome": "done"}, headers=coordinator.headers
        )
        assert r.status_code == 403
        assert _rows(db, cid) == []

    def test_on_behalf_of_must_name_a_party(self, client, db, no_mentor_account, coordinator):
        cid = _commitment(db, no_mentor_account[0]).id
        r = client.post(
            f"/api/v1/commitments/{cid}/check-ins",
            json={"outcome": "done", "on_behalf_of": "admin"},
            headers=coordinator.headers,
        )
        assert r.status_code == 422

    def test_township_office_is_refused(self, client, db, make_user, no_mentor_account):
        cid = _commitment(db, no_mentor_account[0]).id
        office = make_user("township_office", "371721121")
        r = client.post(
            f"/api/v1/commitments/{cid}/check-ins",
            json={"outcome": "done", "on_behalf_of": "mentor"},
            headers=office.headers,
        )
        assert r.status_code == 403


def test_count_of_rows_matches_counters(db, client, active):
    """The counters the rate is computed from agree with the stored reports."""
    cid = _commitment(db, active.match_id).id
    url = f"/api/v1/commitments/{cid}/check-ins"
    for outcome in ("done", "partial", "missed", "done"):
        client.post(url, json={"outcome": outcome}, headers=active.newcomer_user.headers)
    db.expire_all()
    stored = db.scalar(select(func.count()).select_from(CheckIn).where(CheckIn.commitment_id == cid))
    row = db.get(Commitment, cid)
    assert stored == 1 and (row.done_count, row.partial_count, row.missed_count) == (1, 0, 0)


def test_the_console_reports_only_on_a_commitment_of_the_match_in_its_url(
    client, db, make_profiles, propose_pair, coordinator, no_mentor_account
):
    from tests.console.helpers import csrf_token, sign_in

    first_id, _, _ = no_mentor_account
    make_mentor, make_newcomer = make_profiles
    mentor, _ = make_mentor(with_account=False)
    newcomer, newcomer_user = make_newcomer()
    second = propose_pair(mentor, newcomer)
    _activate(client, second.id, coordinator, ["mentor", newcomer_user])
    other = _commitment(db, second.id)
    sign_in(client, coordinator.username)
    token = csrf_token(client, f"/console/matches/{first_id}")
    # A tampered form on the first match's page names the second match's commitment.
    r = client.post(
        f"/console/matches/{first_id}/check-ins",
        data={"csrftoken": token, "commitment_id": other.id, "on_behalf_of": "mentor", "outcome": "done"},
        follow_redirects=False,
    )
    assert r.status_code == 404
    assert db.scalar(select(func.count()).select_from(CheckIn)) == 0
