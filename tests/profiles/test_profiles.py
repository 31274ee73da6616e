"""Mentor and newcomer profiles: ownership, jurisdiction, ETags, masking, filters, pagination."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.models import Mentor
from tests.conftest import (
    CAOXIAN,
    DAJI,
    JIANGSU,
    SHANDONG,
    SHUYANG,
    ZHAXIA,
    mentor_payload,
    newcomer_payload,
)


@pytest.fixture
def office(make_user):
    return make_user("township_office", ZHAXIA)


@pytest.fixture
def js_coordinator(make_user):
    return make_user("coordinator", JIANGSU)


@pytest.fixture
def sd_coordinator(make_user):
    return make_user("coordinator", SHANDONG)


def _create_mentor(client, user, **overrides):
    r = client.post("/api/v1/mentors", json=mentor_payload(**overrides), headers=user.headers)
    assert r.status_code == 201, r.text
    return r


class TestCreate:
    def test_mentor_creates_own_profile(self, client, make_user, db):
        me = make_user("mentor")
        r = _create_mentor(client, me)
        body = r.json()
        assert r.headers["location"] == f"/api/v1/mentors/{body['id']}"
        assert r.headers["etag"] == '"1"'
        assert body["county_code"] == SHUYANG and body["capacity_left"] == 3 and body["has_account"]
        assert body["phone"] == "13912345678"  # the owner sees their own number
        row = db.get(Mentor, body["id"])
        assert row.account_id == me.id and row.resources_mask == 0b1010
        own = client.get("/api/v1/me/mentor-profile", headers=me.headers)
        assert own.status_code == 200 and own.json()["id"] == body["id"]

    def test_second_own_profile_is_409(self, client, make_user):
        me = make_user("mentor")
        _create_mentor(client, me)
        r = client.post("/api/v1/mentors", json=mentor_payload(), headers=me.headers)
        assert r.status_code == 409 and r.json()["code"] == "profile_exists"

    def test_own_profile_missing_is_404(self, client, make_user):
        assert client.get("/api/v1/me/mentor-profile", headers=make_user("mentor").headers).status_code == 404

    @pytest.mark.parametrize(
        "field", ["capacity_used", "id", "account_id", "version", "fulfilment_rate", "is_active", "role"]
    )
    def test_server_owned_fields_rejected(self, client, make_user, field):
        r = client.post(
            "/api/v1/mentors", json=mentor_payload(**{field: 1}), headers=make_user("mentor").headers
        )
        assert r.status_code == 422
        assert r.json()["errors"][0]["loc"][-1] == field

    @pytest.mark.parametrize(
        ("overrides", "code"),
        [
            ({"region_code": "999999"}, "region_not_found"),
            ({"region_code": JIANGSU}, "region_too_coarse"),
            ({"region_code": "32132"}, "validation_failed"),
            ({"region_code": "3213"}, "region_too_coarse"),
            ({"products": ["tea.nonexistent"]}, "unknown_category"),
            ({"products": []}, "validation_failed"),
            ({"products": ["tea.growing", "tea.growing"]}, "validation_failed"),
            ({"resources_offered": []}, "validation_failed"),
            ({"resources_offered": [{"type": "logistics"}, {"type": "logistics"}]}, "validation_failed"),
            ({"capacity": 21}, "validation_failed"),
            ({"phone": "1234"}, "validation_failed"),
            ({"kind": "factory"}, "validation_failed"),
        ],
    )
    def test_bad_inputs(self, client, make_user, overrides, code):
        r = client.post(
            "/api/v1/mentors", json=mentor_payload(**overrides), headers=make_user("mentor").headers
        )
        assert r.status_code == 422, r.text
        assert r.json()["code"] == code

    def test_office_creates_roster_entry_in_its_township_only(self, client, office):
        r = _create_mentor(client, office)
        assert r.json()["has_account"] is False
        outside = client.post(
            "/api/v1/mentors", json=mentor_payload(region_code=DAJI), headers=office.headers
        )
        assert outside.status_code == 422 and outside.json()["code"] == "region_outside_jurisdiction"

    def test_roles_that_may_not_create(self, client, make_user, js_coordinator):
        assert (
            client.post(
                "/api/v1/mentors", json=mentor_payload(), headers=make_user("newcomer").headers
            ).status_code
            == 403
        )
        assert (
            client.post("/api/v1/mentors", json=mentor_payload(), headers=js_coordinator.headers).status_code
            == 403
        )

    def test_oversized_body_is_413(self, client, make_user):
        body = mentor_payload(story="x" * 1_100_000)
        r = client.post("/api/v1/mentors", json=body, headers=make_user("mentor").headers)
        assert r.status_code == 413 and r.json()["code"] == "payload_too_large"


class TestReadAndMask:
    def test_bola_other_mobile_user_gets_404(self, client, make_user):
        a, b = make_user("mentor"), make_user("mentor")
        pid = _create_mentor(client, a).json()["id"]
        assert client.get(f"/api/v1/mentors/{pid}", headers=b.headers).status_code == 404
        r = client.patch(
            f"/api/v1/mentors/{pid}", json={"name": "hijack"}, headers={**b.headers, "If-Match": '"1"'}
        )
        assert r.status_code == 404
        assert client.delete(f"/api/v1/mentors/{pid}", headers=b.headers).status_code == 404
        assert client.get(f"/api/v1/mentors/{pid}", headers=a.headers).json()["name"] == "沭阳花木合作社"

    def test_newcomer_bola(self, client, make_user):
        a, b = make_user("newcomer"), make_user("newcomer")
        r = client.post("/api/v1/newcomers", json=newcomer_payload(), headers=a.headers)
        assert r.status_code == 201, r.text
        pid = r.json()["id"]
        assert client.get(f"/api/v1/newcomers/{pid}", headers=b.headers).status_code == 404
        assert client.get(f"/api/v1/newcomers/{pid}", headers=a.headers).status_code == 200

    def test_jurisdiction_and_masking(self, client, office, js_coordinator, sd_coordinator):
        pid = _create_mentor(client, office).json()["id"]
        coord_view = client.get(f"/api/v1/mentors/{pid}", headers=js_coordinator.headers)
        assert coord_view.status_code == 200
        assert coord_view.json()["phone"] == "139****5678"
        assert client.get(f"/api/v1/mentors/{pid}", headers=office.headers).json()["phone"] == "13912345678"
        assert client.get(f"/api/v1/mentors/{pid}", headers=sd_coordinator.headers).status_code == 404

    def test_unknown_id_is_404(self, client, js_coordinator):
        r = client.get("/api/v1/mentors/987654", headers=js_coordinator.headers)
        assert r.status_code == 404 and r.json()["code"] == "not_found"


class TestUpdate:
    def test_if_match_required_then_stale_then_ok(self, client, make_user, db):
        me = make_user("mentor")
        created = _create_mentor(client, me)
        pid, etag = created.json()["id"], created.headers["etag"]
        url = f"/api/v1/mentors/{pid}"
        missing = client.patch(url, json={"capacity": 5}, headers=me.headers)
        assert missing.status_code == 428 and missing.json()["code"] == "precondition_required"
        ok = client.patch(
            url,
            json={"capacity": 5, "products": ["tea.processing"]},
            headers={**me.headers, "If-Match": etag},
        )
        assert ok.status_code == 200, ok.text
        assert ok.json()["capacity"] == 5 and ok.json()["products"] == ["tea.processing"]
        assert ok.headers["etag"] != etag
        stale = client.patch(url, json={"capacity": 6}, headers={**me.headers, "If-Match": etag})
        assert stale.status_code == 412 and stale.json()["code"] == "precondition_failed"
        assert db.get(Mentor, pid).capacity == 5

    def test_product_only_change_moves_etag(self, client, make_user):
        me = make_user("mentor")
        created = _create_mentor(client, me)
        r = client.patch(
            f"/api/v1/mentors/{created.json()['id']}",
            json={"products": ["tea.growing"]},
            headers={**me.headers, "If-Match": created.headers["etag"]},
        )
        assert r.headers["etag"] != created.headers["etag"]

    def test_the_same_values_again_keep_the_version(self, client, make_user, db):
        me = make_user("mentor")
        created = _create_mentor(client, me)
        url, etag = f"/api/v1/mentors/{created.json()['id']}", created.headers["etag"]
        same = {k: created.json()[k] for k in ("name", "capacity", "products", "channels", "story")}
        again = client.patch(url, json=same, headers={**me.headers, "If-Match": etag})
        assert again.status_code == 200 and again.headers["etag"] == etag
        assert db.get(Mentor, created.json()["id"]).version == created.json()["version"]
        # A stale tag is still refused, changed or not; a real change still moves it.
        assert client.patch(url, json=same, headers={**me.headers, "If-Match": '"99"'}).status_code == 412
        moved = client.patch(url, json={**same, "story": "新故事"}, headers={**me.headers, "If-Match": etag})
        assert moved.status_code == 200 and moved.headers["etag"] != etag

    def test_capacity_below_used_is_409(self, client, make_user, db):
        me = make_user("mentor")
        created = _create_mentor(client, me)
        row = db.get(Mentor, created.json()["id"])
        row.capacity_used = 2
        db.commit()
        etag = client.get(f"/api/v1/mentors/{row.id}", headers=me.headers).headers["etag"]
        r = client.patch(
            f"/api/v1/mentors/{row.id}", json={"capacity": 1}, headers={**me.headers, "If-Match": etag}
        )
        assert r.status_code == 409 and r.json()["code"] == "capacity_below_used"

    def test_coordinator_may_read_but_not_edit_mentors(self, client, office, js_coordinator):
        created = _create_mentor(client, office)
        r = client.patch(
            f"/api/v1/mentors/{created.json()['id']}",
            json={"capacity": 4},
            headers={**js_coordinator.headers, "If-Match": created.headers["etag"]},
        )
        assert r.status_code == 403

    def test_mass_assignment_on_patch(self, client, make_user):
        me = make_user("mentor")
        created = _create_mentor(client, me)
        r = client.patch(
            f"/api/v1/mentors/{created.json()['id']}",
            json={"capacity_used": 0},
            headers={**me.headers, "If-Match": created.headers["etag"]},
        )
        assert r.status_code == 422

    def test_deactivate(self, client, make_user, db):
        me = make_user("mentor")
        pid = _create_mentor(client, me).json()["id"]
        assert client.delete(f"/api/v1/mentors/{pid}", headers=me.headers).status_code == 204
        assert db.scalar(select(Mentor.is_active).where(Mentor.id == pid)) is False


class TestList:
    @pytest.fixture
    def roster(self, client, make_user):
        office = make_user("township_office", ZHAXIA)
        ids = [
            _create_mentor(client, office, name="花木一号", phone=None).json()["id"],
            _create_mentor(
                client,
                office,
                name="茶叶二号",
                products=["tea.processing"],
                phone=None,
                resources_offered=[{"type": "information", "description": "行情"}],
            ).json()["id"],
            _create_mentor(client, office, name="花木三号", story="盆景直播", phone=None).json()["id"],
        ]
        sd_office = make_user("township_office", DAJI)
        other = _create_mentor(
            client, sd_office, name="曹县汉服", region_code=DAJI, products=["apparel.costumes"], phone=None
        ).json()["id"]
        return ids, other

    def test_scope_filters_and_pages(self, client, make_user, roster):
        ids, other = roster
        coord = make_user("coordinator", SHUYANG)
        page1 = client.get("/api/v1/mentors", params={"limit": 2}, headers=coord.headers).json()
        assert [m["id"] for m in page1["items"]] == ids[:2] and page1["next_cursor"]
        page2 = client.get(
            "/api/v1/mentors", params={"limit": 2, "cursor": page1["next_cursor"]}, headers=coord.headers
        ).json()
        assert [m["id"] for m in page2["items"]] == ids[2:] and page2["next_cursor"] is None

        def ids_for(**params):
            r = client.get("/api/v1/mentors", params=params, headers=coord.headers)
            assert r.status_code == 200, r.text
            return [m["id"] for m in r.json()["items"]]

        assert ids_for(category="tea") == [ids[1]]
        assert ids_for(category="flowers.pots_miniascape") == [ids[0], ids[2]]
        assert ids_for(resource="information") == [ids[1]]
        assert ids_for(resource="logistics") == [ids[0], ids[2]]
        assert ids_for(q="直播") == [ids[2]]
        assert ids_for(region=CAOXIAN) == []  # outside the coordinator's county: never shown
        admin = make_user("admin")
        r = client.get("/api/v1/mentors", params={"region": CAOXIAN}, headers=admin.headers)
        assert [m["id"] for m in r.json()["items"]] == [other]

    def test_mobile_users_cannot_list(self, client, make_user):
        assert client.get("/api/v1/mentors", headers=make_user("newcomer").headers).status_code == 403
        assert client.get("/api/v1/newcomers", headers=make_user("mentor").headers).status_code == 403

    @pytest.mark.parametrize("cursor", ["!!!", "WzFd" + "x", "eyJhIjoxfQ", "WyJ4Il0"])
    def test_bad_cursor_is_422(self, client, make_user, cursor):
        r = client.get("/api/v1/mentors", params={"cursor": cursor}, headers=make_user("admin").headers)
        assert r.status_code == 422 and r.json()["code"] == "invalid_cursor"

    def test_limit_bounds(self, client, make_user):
        admin = make_user("admin")
        assert client.get("/api/v1/mentors", params={"limit": 101}, headers=admin.headers).status_code == 422
        assert client.get("/api/v1/mentors", params={"limit": 0}, headers=admin.headers).status_code == 422


class TestOnePersonOneProfile:
    """A second active profile with the same name and phone is the same person again: a 409 that names
    the first, inside the caller's jurisdiction; a family's shared phone under another name is allowed."""

    def test_a_kept_newcomer_twice_is_refused_with_the_first_named(self, client, sd_coordinator, make_user):
        body = newcomer_payload(phone="13712345678")
        first = client.post("/api/v1/newcomers", json=body, headers=sd_coordinator.headers)
        assert first.status_code == 201
        again = client.post("/api/v1/newcomers", json=body, headers=sd_coordinator.headers)
        assert again.status_code == 409 and again.json()["code"] == "duplicate_profile"
        assert again.json()["profile_id"] == first.json()["id"]
        sibling = newcomer_payload(phone="13712345678", name="王小梅的弟弟")
        assert (
            client.post("/api/v1/newcomers", json=sibling, headers=sd_coordinator.headers).status_code == 201
        )

    def test_an_office_cannot_enter_one_mentor_twice(self, client, office):
        first = _create_mentor(client, office, phone="13912340001")
        again = client.post(
            "/api/v1/mentors", json=mentor_payload(phone="13912340001"), headers=office.headers
        )
        assert again.status_code == 409 and again.json()["profile_id"] == first.json()["id"]

    def test_an_edit_into_a_twin_is_refused_and_a_deactivated_one_frees_it(self, client, office, db):
        first = _create_mentor(client, office, phone="13912340002")
        other = _create_mentor(client, office, phone="13912340003", name="另一家合作社")
        url = f"/api/v1/mentors/{other.json()['id']}"
        clash = {"phone": "13912340002", "name": first.json()["name"]}
        r = client.patch(url, json=clash, headers={**office.headers, "If-Match": other.headers["etag"]})
        assert r.status_code == 409 and r.json()["code"] == "duplicate_profile"
        db.expire_all()
        assert db.get(Mentor, other.json()["id"]).phone == "13912340003"
        gone = client.delete(f"/api/v1/mentors/{first.json()['id']}", headers=office.headers)
        assert gone.status_code == 204
        r = client.patch(url, json=clash, headers={**office.headers, "If-Match": other.headers["etag"]})
        assert r.status_code == 200, r.text

    def test_a_twin_outside_the_jurisdiction_is_not_looked_at(self, client, office, make_user):
        _create_mentor(client, office, phone="13912340004")
        elsewhere = make_user("township_office", DAJI)
        body = mentor_payload(phone="13912340004", region_code=DAJI)
        assert client.post("/api/v1/mentors", json=body, headers=elsewhere.headers).status_code == 201


class TestInvisibleCharacters:
    """Zero-width marks and direction controls are dropped from every body's text, as the importer
    drops them: a name of nothing else is blank, and a stored name reads as it is stored."""

    @pytest.mark.parametrize("name", ["\u202e\u200f", "\u200b\u200b", "\ufeff \u2066"])
    def test_a_name_of_only_invisible_marks_is_blank(self, client, office, name):
        r = client.post("/api/v1/mentors", json=mentor_payload(name=name), headers=office.headers)
        assert r.status_code == 422 and r.json()["code"] == "validation_failed"

    def test_marks_inside_a_name_or_story_are_dropped(self, client, office, db):
        body = mentor_payload(name="沭阳\u202e花木\u200b社", story="直播\u2067带货")
        r = client.post("/api/v1/mentors", json=body, headers=office.headers)
        assert r.status_code == 201 and r.json()["name"] == "沭阳花木社"
        stored = db.get(Mentor, r.json()["id"])
        assert (stored.name, stored.story) == ("沭阳花木社", "直播带货")
