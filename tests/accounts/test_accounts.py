"""Admin management of staff accounts."""

from __future__ import annotations

from app.accounts.service import reset_password
from app.models import Account
from tests.conftest import JIANGSU, TEST_PASSWORD, ZHAXIA


def _staff(role="coordinator", jurisdiction=JIANGSU, username="js-coord"):
    return {
        "username": username,
        "password": TEST_PASSWORD,
        "role": role,
        "display_name": "江苏协调员",
        "jurisdiction_code": jurisdiction,
    }


def test_admin_creates_staff_who_can_log_in(client, make_user):
    admin = make_user("admin")
    r = client.post("/api/v1/accounts", json=_staff(), headers=admin.headers)
    assert r.status_code == 201, r.text
    assert r.json()["jurisdiction_code"] == JIANGSU
    token = client.post("/api/v1/auth/token", data={"username": "js-coord", "password": TEST_PASSWORD})
    assert token.status_code == 200


def test_jurisdiction_level_must_fit_role(client, make_user):
    admin = make_user("admin")
    bad = client.post("/api/v1/accounts", json=_staff("township_office", JIANGSU), headers=admin.headers)
    assert bad.status_code == 422
    missing = client.post("/api/v1/accounts", json=_staff(jurisdiction=None), headers=admin.headers)
    assert missing.status_code == 422
    unknown = client.post("/api/v1/accounts", json=_staff(jurisdiction="999999"), headers=admin.headers)
    assert unknown.json()["code"] == "region_not_found"
    ok = client.post(
        "/api/v1/accounts", json=_staff("township_office", ZHAXIA, "zx-office"), headers=admin.headers
    )
    assert ok.status_code == 201


def test_duplicate_username_409(client, make_user):
    admin = make_user("admin")
    client.post("/api/v1/accounts", json=_staff(), headers=admin.headers)
    assert client.post("/api/v1/accounts", json=_staff(), headers=admin.headers).status_code == 409


def test_deactivation_locks_out_at_once(client, make_user):
    admin, coord = make_user("admin"), make_user("coordinator", JIANGSU)
    assert client.get("/api/v1/me", headers=coord.headers).status_code == 200
    r = client.patch(f"/api/v1/accounts/{coord.id}", json={"is_active": False}, headers=admin.headers)
    assert r.status_code == 200 and r.json()["is_active"] is False
    assert client.get("/api/v1/me", headers=coord.headers).json()["code"] == "account_inactive"


def test_an_admin_neither_nulls_fields_nor_deactivates_themself(client, make_user, db):
    admin, other_admin, coord = make_user("admin"), make_user("admin"), make_user("coordinator", JIANGSU)
    for body in ({"display_name": None}, {"is_active": None}):
        r = client.patch(f"/api/v1/accounts/{coord.id}", json=body, headers=admin.headers)
        assert r.status_code == 422 and r.json()["code"] == "validation_failed", r.text
    r = client.patch(f"/api/v1/accounts/{admin.id}", json={"is_active": False}, headers=admin.headers)
    assert r.status_code == 409 and r.json()["code"] == "cannot_deactivate_self"
    assert client.get("/api/v1/me", headers=admin.headers).status_code == 200
    r = client.patch(f"/api/v1/accounts/{admin.id}", json={"is_active": False}, headers=other_admin.headers)
    assert r.status_code == 200 and r.json()["is_active"] is False


def test_list_by_role_pages(client, make_user):
    admin = make_user("admin")
    for _ in range(3):
        make_user("mentor")
    first = client.get(
        "/api/v1/accounts", params={"role": "mentor", "limit": 2}, headers=admin.headers
    ).json()
    rest = client.get(
        "/api/v1/accounts",
        params={"role": "mentor", "limit": 2, "cursor": first["next_cursor"]},
        headers=admin.headers,
    ).json()
    assert len(first["items"]) == 2 and len(rest["items"]) == 1
    assert all(a["role"] == "mentor" for a in first["items"] + rest["items"])


def test_a_reactivated_account_does_not_revive_the_tokens_of_before(client, make_user):
    admin, coord = make_user("admin"), make_user("coordinator", JIANGSU)
    off = client.patch(f"/api/v1/accounts/{coord.id}", json={"is_active": False}, headers=admin.headers)
    on = client.patch(f"/api/v1/accounts/{coord.id}", json={"is_active": True}, headers=admin.headers)
    assert off.status_code == on.status_code == 200 and on.json()["is_active"] is True
    # The old token names the generation before the deactivation: it stays dead, and says why.
    stale = client.get("/api/v1/me", headers=coord.headers)
    assert stale.status_code == 401 and stale.json()["code"] == "login_ended"
    # A fresh login works.
    fresh = client.post("/api/v1/auth/token", data={"username": coord.username, "password": TEST_PASSWORD})
    assert fresh.status_code == 200
    again = {"Authorization": f"Bearer {fresh.json()['access_token']}"}
    assert client.get("/api/v1/me", headers=again).status_code == 200


def test_an_update_that_keeps_the_account_active_keeps_its_logins(client, make_user):
    admin, coord = make_user("admin"), make_user("coordinator", JIANGSU)
    for body in ({"is_active": True}, {"display_name": "江苏协调员"}):
        r = client.patch(f"/api/v1/accounts/{coord.id}", json=body, headers=admin.headers)
        assert r.status_code == 200
        assert client.get("/api/v1/me", headers=coord.headers).status_code == 200


def test_a_password_reset_ends_the_access_tokens_too(client, db, make_user):
    coord = make_user("coordinator", JIANGSU)
    account = db.get(Account, coord.id)
    reset_password(db, account, password="a-new-long-passphrase-2026")
    db.commit()
    r = client.get("/api/v1/me", headers=coord.headers)
    assert r.status_code == 401 and r.json()["code"] == "login_ended"


def test_a_name_differing_only_in_case_is_taken(client, db, make_user):
    admin = make_user("admin")
    assert (
        client.post("/api/v1/accounts", json=_staff(username="js-coord"), headers=admin.headers).status_code
        == 201
    )
    for twin in ("JS-COORD", "Js-Coord"):
        r = client.post("/api/v1/accounts", json=_staff(username=twin), headers=admin.headers)
        assert r.status_code == 409 and r.json()["code"] == "already_exists", r.text
    assert db.query(Account).filter(Account.display_name == "江苏协调员").count() == 1


def test_a_staff_name_of_digits_only_is_refused(client, make_user):
    # It could be a phone number, which its owner would then find taken when signing up.
    admin = make_user("admin")
    r = client.post("/api/v1/accounts", json=_staff(username="13800000009"), headers=admin.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "username"], r.text
    # Said in the caller's language, not pydantic's English inside a Chinese frame.
    assert r.json()["errors"][0]["msg"] == "须包含至少一个英文字母（纯数字是手机号的登录名）"
    en = client.post(
        "/api/v1/accounts",
        json=_staff(username="13800000009"),
        headers={**admin.headers, "Accept-Language": "en"},
    )
    assert "must contain a letter" in en.json()["errors"][0]["msg"]
    r = client.post("/api/v1/accounts", json=_staff(jurisdiction="321322115"), headers=admin.headers)
    assert r.status_code == 422 and "是乡镇级，该角色的管辖区应为省级、地市级、县级" in r.json()["detail"], (
        r.text
    )
    body = {"phone": "13800000009", "password": TEST_PASSWORD, "role": "mentor", "display_name": "x"}
    assert client.post("/api/v1/auth/register", json=body).status_code == 201
