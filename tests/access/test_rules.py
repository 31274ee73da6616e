"""The four access rules: who sees a phone, who edits a seller-kept profile, reviewers, the last admin."""

from __future__ import annotations

import csv
import io

import pytest

from app.jobs.handlers import HANDLERS
from app.jobs.worker import Worker
from app.models import Match, Mentor, MentorProduct, Newcomer, NewcomerProduct
from tests.conftest import CAOXIAN, DAJI, JIANGSU, SHANDONG, ZHAXIA, mentor_payload, newcomer_payload

MENTOR_PHONE, NEWCOMER_PHONE = "13912345678", "13700001111"
MASKED_MENTOR, MASKED_NEWCOMER = "139****5678", "137****1111"


@pytest.fixture
def office(make_user):
    return make_user("township_office", ZHAXIA)


@pytest.fixture
def sd_coordinator(make_user):
    return make_user("coordinator", SHANDONG)


def _mentor(db, *, account_id=None, region=ZHAXIA, phone=MENTOR_PHONE) -> Mentor:
    mentor = Mentor(
        name="花木合作社", kind="cooperative", region_code=region, county_code=region[:6], capacity=3,
        account_id=account_id, phone=phone, years_selling=9, honours=["电商示范户"], sales_band="100-500",
        story="从一个大棚做到全镇联营", resources_offered=[{"type": "logistics", "description": "冷链"}],
        resources_mask=8, products=[MentorProduct(category_code="flowers.seedlings")],
    )  # fmt: skip
    db.add(mentor)
    db.commit()
    return mentor


def _newcomer(db, *, account_id=None, region=DAJI, phone=NEWCOMER_PHONE) -> Newcomer:
    newcomer = Newcomer(
        name="新农人", region_code=region, county_code=region[:6], account_id=account_id, phone=phone,
        resources_needed=["logistics"], resources_mask=8,
        products=[NewcomerProduct(category_code="flowers.pots_miniascape")],
    )  # fmt: skip
    db.add(newcomer)
    db.commit()
    return newcomer


def _match(db, mentor: Mentor, newcomer: Newcomer, status: str = "proposed") -> Match:
    match = Match(
        newcomer_id=newcomer.id, mentor_id=mentor.id, newcomer_county_code=newcomer.county_code,
        mentor_county_code=mentor.county_code, score=0.8, status=status, score_parts={}, reasons={},
        suggested_commitments=[],
    )  # fmt: skip
    db.add(match)
    db.commit()
    return match


class TestPhones:
    def test_newcomer_phone_masked_for_coordinators_and_offices_in_full_for_owner_and_admin(
        self, client, make_user, sd_coordinator
    ):
        owner = make_user("newcomer")
        created = client.post("/api/v1/newcomers", json=newcomer_payload(), headers=owner.headers)
        assert created.status_code == 201, created.text
        assert created.json()["phone"] == NEWCOMER_PHONE
        url = f"/api/v1/newcomers/{created.json()['id']}"
        office = make_user("township_office", DAJI)
        for viewer in (sd_coordinator, office):
            one = client.get(url, headers=viewer.headers)
            assert one.status_code == 200 and one.json()["phone"] == MASKED_NEWCOMER
            listed = client.get("/api/v1/newcomers", headers=viewer.headers).json()["items"]
            assert [n["phone"] for n in listed] == [MASKED_NEWCOMER]
        assert client.get(url, headers=make_user("admin").headers).json()["phone"] == NEWCOMER_PHONE
        assert client.get(url, headers=owner.headers).json()["phone"] == NEWCOMER_PHONE

    def test_a_coordinator_keeping_a_newcomer_still_sees_the_phone_masked(self, client, sd_coordinator):
        r = client.post("/api/v1/newcomers", json=newcomer_payload(), headers=sd_coordinator.headers)
        assert r.status_code == 201 and r.json()["phone"] == MASKED_NEWCOMER

    def test_mentor_phone_in_full_for_the_keeping_office_only(self, client, make_user, office):
        created = client.post("/api/v1/mentors", json=mentor_payload(), headers=office.headers)
        assert created.json()["phone"] == MENTOR_PHONE
        listed = client.get("/api/v1/mentors", headers=office.headers).json()["items"]
        assert [m["phone"] for m in listed] == [MENTOR_PHONE]
        coordinator = make_user("coordinator", JIANGSU)
        listed = client.get("/api/v1/mentors", headers=coordinator.headers).json()["items"]
        assert [m["phone"] for m in listed] == [MASKED_MENTOR]

    def test_a_seller_with_an_account_keeps_the_number_from_the_office(self, client, db, make_user, office):
        # The office may no longer edit the profile (409 profile_has_account), so it does not keep it.
        seller = make_user("mentor")
        mentor = _mentor(db, account_id=seller.id)
        one = client.get(f"/api/v1/mentors/{mentor.id}", headers=office.headers)
        assert one.status_code == 200 and one.json()["phone"] == MASKED_MENTOR
        listed = client.get("/api/v1/mentors", headers=office.headers).json()["items"]
        assert [m["phone"] for m in listed] == [MASKED_MENTOR]
        own = client.get(f"/api/v1/mentors/{mentor.id}", headers=seller.headers)
        assert own.json()["phone"] == MENTOR_PHONE

    def test_proposal_phones_masked_for_the_reviewer(self, client, db, sd_coordinator):
        match = _match(db, _mentor(db), _newcomer(db))
        body = client.get(f"/api/v1/proposals/{match.id}", headers=sd_coordinator.headers).json()
        assert body["mentor"]["phone"] == MASKED_MENTOR and body["newcomer"]["phone"] == MASKED_NEWCOMER
        listed = client.get("/api/v1/proposals", headers=sd_coordinator.headers).json()["items"]
        assert [(p["mentor"]["phone"], p["newcomer"]["phone"]) for p in listed] == [
            (MASKED_MENTOR, MASKED_NEWCOMER)
        ]

    @pytest.mark.parametrize(("status", "in_full"), [("approved", False), ("active", True)])
    def test_match_phones_in_full_between_the_parties_once_active(
        self, client, db, make_user, sd_coordinator, status, in_full
    ):
        mentor_user, newcomer_user = make_user("mentor"), make_user("newcomer")
        mentor = _mentor(db, account_id=mentor_user.id)
        newcomer = _newcomer(db, account_id=newcomer_user.id)
        match = _match(db, mentor, newcomer, status)
        url = f"/api/v1/matches/{match.id}"
        as_newcomer = client.get(url, headers=newcomer_user.headers).json()
        assert as_newcomer["mentor"]["phone"] == (MENTOR_PHONE if in_full else MASKED_MENTOR)
        assert as_newcomer["newcomer"]["phone"] == NEWCOMER_PHONE  # one's own number
        as_mentor = client.get(url, headers=mentor_user.headers).json()
        assert as_mentor["newcomer"]["phone"] == (NEWCOMER_PHONE if in_full else MASKED_NEWCOMER)
        mine = client.get("/api/v1/me/matches", headers=mentor_user.headers).json()["items"]
        assert mine[0]["newcomer"]["phone"] == as_mentor["newcomer"]["phone"]
        # The reviewer is not a party: masked whatever the status.
        as_reviewer = client.get(url, headers=sd_coordinator.headers).json()
        assert (as_reviewer["mentor"]["phone"], as_reviewer["newcomer"]["phone"]) == (
            MASKED_MENTOR,
            MASKED_NEWCOMER,
        )

    def test_import_reports_show_phones_only_to_the_keeping_office(
        self, client, make_user, office, settings, session_factory
    ):
        header = "外部编号,名称,类型,手机号,行政区划代码,主营产品,可分享资源,可带徒人数\r\n"
        row = f"E1,示范户,农户,{MENTOR_PHONE},{DAJI},花木,技术,2\r\n"  # outside the office's township
        r = client.post(
            "/api/v1/imports",
            files={"file": ("roster.csv", (header + row).encode(), "text/csv")},
            headers=office.headers,
        )
        assert r.status_code == 202, r.text
        Worker(session_factory, HANDLERS, settings=settings).run_until_idle()
        url = r.json()["url"]
        report = client.get(f"{url}/errors.csv", headers=office.headers)
        table = list(csv.reader(io.StringIO(report.content[3:].decode("utf-8"))))
        assert table[1][table[0].index("手机号")] == MENTOR_PHONE
        other_office = make_user("township_office", DAJI)
        for suffix in ("", "/errors", "/errors.csv", "/rows"):
            assert client.get(url + suffix, headers=other_office.headers).status_code == 404
            assert (
                client.get(url + suffix, headers=make_user("coordinator", JIANGSU).headers).status_code == 403
            )


class TestSellerKeptProfiles:
    def test_office_cannot_change_a_mentor_who_has_an_account(self, client, db, make_user, office):
        owner = make_user("mentor")
        mentor = _mentor(db, account_id=owner.id)
        url = f"/api/v1/mentors/{mentor.id}"
        for body in ({"phone": "13800000000"}, {"capacity": 5}, {"name": "改名"}):
            r = client.patch(url, json=body, headers={**office.headers, "If-Match": '"1"'})
            assert r.status_code == 409 and r.json()["code"] == "profile_has_account", r.text
        db.refresh(mentor)
        assert (mentor.phone, mentor.capacity, mentor.name) == (MENTOR_PHONE, 3, "花木合作社")
        assert (
            client.patch(url, json={"name": "本人改"}, headers={**owner.headers, "If-Match": '"1"'}).json()[
                "name"
            ]
            == "本人改"
        )
        admin = make_user("admin")
        assert (
            client.patch(url, json={"capacity": 5}, headers={**admin.headers, "If-Match": '"2"'}).json()[
                "capacity"
            ]
            == 5
        )

    def test_coordinator_cannot_change_a_newcomer_who_has_an_account(self, client, db, make_user):
        newcomer = _newcomer(db, account_id=make_user("newcomer").id)
        coordinator = make_user("coordinator", CAOXIAN)
        r = client.patch(
            f"/api/v1/newcomers/{newcomer.id}",
            json={"phone": "13800000000"},
            headers={**coordinator.headers, "If-Match": '"1"'},
        )
        assert r.status_code == 409 and r.json()["code"] == "profile_has_account"

    def test_office_still_keeps_its_roster_mentors(self, client, db, office):
        mentor = _mentor(db)
        r = client.patch(
            f"/api/v1/mentors/{mentor.id}",
            json={"capacity": 5},
            headers={**office.headers, "If-Match": '"1"'},
        )
        assert r.status_code == 200 and r.json()["capacity"] == 5


class TestReviewersSeeWhatTheyJudge:
    def test_coordinator_with_a_proposal_reads_the_mentor_from_another_province(
        self, client, db, make_user, sd_coordinator
    ):
        mentor = _mentor(db)  # in Jiangsu; the coordinator is Shandong's
        url = f"/api/v1/mentors/{mentor.id}"
        assert client.get(url, headers=sd_coordinator.headers).status_code == 404
        earlier = _match(db, mentor, _newcomer(db, region="371721101"), "completed")
        assert client.get(url, headers=sd_coordinator.headers).status_code == 404  # nothing to judge
        proposal = _match(db, mentor, _newcomer(db))
        body = client.get(url, headers=sd_coordinator.headers)
        assert body.status_code == 200
        assert body.json()["phone"] == MASKED_MENTOR and body.json()["honours"] == ["电商示范户"]
        assert client.get(url, headers=make_user("coordinator", "53").headers).status_code == 404
        record = client.get(f"/api/v1/proposals/{proposal.id}", headers=sd_coordinator.headers).json()[
            "mentor"
        ]["track_record"]
        assert record["years_selling"] == 9 and record["honours"] == ["电商示范户"]
        assert record["sales_band"] == "100-500" and record["story"] == "从一个大棚做到全镇联营"
        assert record["outcomes"] == {"completed": 1}
        assert [(m["id"], m["status"]) for m in record["past_matches"]] == [(earlier.id, "completed")]
        listed = client.get("/api/v1/proposals", headers=sd_coordinator.headers).json()["items"]
        assert listed[0]["mentor"]["track_record"] == record
        # Once decided, the proposal leaves the queue, and with it the right to read the mentor.
        etag = client.get(f"/api/v1/proposals/{proposal.id}", headers=sd_coordinator.headers).headers["etag"]
        client.post(
            f"/api/v1/proposals/{proposal.id}/reject",
            json={"reason_code": "too_far"},
            headers={**sd_coordinator.headers, "If-Match": etag},
        )
        assert client.get(url, headers=sd_coordinator.headers).status_code == 404


class TestLastAdmin:
    def test_the_last_active_admin_cannot_be_deactivated(self, client, make_user):
        first = make_user("admin")
        r = client.patch(f"/api/v1/accounts/{first.id}", json={"is_active": False}, headers=first.headers)
        assert r.status_code == 409 and r.json()["code"] == "last_admin"
        second = make_user("admin")
        r = client.patch(f"/api/v1/accounts/{first.id}", json={"is_active": False}, headers=second.headers)
        assert r.status_code == 200 and r.json()["is_active"] is False
        r = client.patch(f"/api/v1/accounts/{second.id}", json={"is_active": False}, headers=second.headers)
        assert r.status_code == 409
        assert client.get("/api/v1/me", headers=second.headers).status_code == 200

    def test_other_accounts_and_inactive_admins_are_not_counted(self, client, make_user):
        admin = make_user("admin")
        coordinator = make_user("coordinator", JIANGSU)
        r = client.patch(
            f"/api/v1/accounts/{coordinator.id}", json={"is_active": False}, headers=admin.headers
        )
        assert r.status_code == 200
