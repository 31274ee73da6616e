"""Registration, login, refresh rotation, logout, throttling."""

from __future__ import annotations

from sqlalchemy import select

from app.auth.tokens import issue_access_token
from app.models import Account, LoginFailure, RefreshToken
from tests.conftest import TEST_PASSWORD


def _register(client, phone="13800000001", role="newcomer", **extra):
    body = {"phone": phone, "password": TEST_PASSWORD, "role": role, "display_name": "张三", **extra}
    return client.post("/api/v1/auth/register", json=body)


def _login(client, username="13800000001", password=TEST_PASSWORD):
    return client.post("/api/v1/auth/token", data={"username": username, "password": password})


class TestRegister:
    def test_a_password_keeps_its_invisible_marks_and_a_name_does_not(self, client, db):
        # A password is used exactly as typed; a display name loses its zero-width marks.
        password = "zero\u200bwidth-passphrase"
        r = _register(client, password=password, display_name="张\u200b三")
        assert r.status_code == 201, r.text
        assert db.scalar(select(Account.display_name).where(Account.username == "13800000001")) == "张三"
        assert _login(client, password=password).status_code == 200
        assert _login(client, password="zerowidth-passphrase").status_code == 401

    def test_creates_account_with_argon2_hash(self, client, db):
        r = _register(client)
        assert r.status_code == 201, r.text
        assert r.json()["role"] == "newcomer"
        account = db.scalar(select(Account).where(Account.username == "13800000001"))
        assert account.password_hash.startswith("$argon2id$")
        assert TEST_PASSWORD not in account.password_hash

    def test_duplicate_phone_is_409(self, client):
        assert _register(client).status_code == 201
        r = _register(client)
        assert r.status_code == 409
        assert r.json()["code"] == "already_exists"
        assert r.headers["content-type"].startswith("application/problem+json")

    def test_staff_role_cannot_self_register(self, client):
        assert _register(client, role="admin").status_code == 422

    def test_mass_assignment_rejected(self, client):
        r = _register(client, jurisdiction_code="32", is_active=True)
        assert r.status_code == 422
        assert r.json()["code"] == "validation_failed"
        assert {e["loc"][-1] for e in r.json()["errors"]} == {"jurisdiction_code", "is_active"}

    def test_weak_passwords_refused(self, client):
        for password in (
            "13800000001",
            "12345678",
            "Password1",
            "WOAINI1314",
            " " * 8,
            "\t " * 6,
            "abababab",
        ):
            r = _register(client, password=password)
            assert r.status_code == 422, (password, r.text)
            assert r.json()["code"] == "weak_password"

    def test_nul_in_any_string_is_422(self, client):
        r = _register(client, display_name="张\x00三")
        assert r.status_code == 422, r.text
        assert [e["loc"][-1] for e in r.json()["errors"]] == ["display_name"]

    def test_bad_phone_and_short_password(self, client):
        r = client.post(
            "/api/v1/auth/register",
            json={"phone": "12345", "password": "short", "role": "mentor", "display_name": "x"},
        )
        assert r.status_code == 422
        assert {e["loc"][-1] for e in r.json()["errors"]} == {"phone", "password"}


class TestLogin:
    def test_tokens_work(self, client):
        _register(client)
        r = _login(client)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["token_type"] == "bearer" and body["expires_in"] == 15 * 60
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
        assert me.status_code == 200 and me.json()["username"] == "13800000001"

    def test_wrong_password_401_same_for_unknown_user(self, client):
        _register(client)
        a = _login(client, password="wrong password!")
        b = _login(client, username="13899999999")
        assert a.status_code == b.status_code == 401
        assert a.json()["code"] == b.json()["code"] == "invalid_credentials"
        assert a.headers["www-authenticate"] == "Bearer"

    def test_throttled_after_repeated_failures(self, client):
        _register(client)
        for _ in range(5):
            assert _login(client, password="wrong password!").status_code == 401
        r = _login(client)  # even the right password is refused while throttled
        assert r.status_code == 429
        assert r.json()["code"] == "login_throttled"
        assert int(r.headers["retry-after"]) > 0

    def test_only_wrong_passwords_use_up_the_budget(self, client):
        # Five wrong passwords per window; the owner's own sign-ins never lock them out.
        _register(client)
        for _ in range(2):
            assert _login(client, password="wrong password!").status_code == 401
        for _ in range(6):
            assert _login(client).status_code == 200
        for _ in range(3):
            assert _login(client, password="wrong password!").status_code == 401
        r = _login(client)
        assert r.status_code == 429 and r.json()["code"] == "login_throttled"

    def test_throttle_is_per_username(self, client):
        _register(client)
        _register(client, phone="13800000002")
        for _ in range(5):
            _login(client, password="wrong password!")
        assert _login(client).status_code == 429
        assert _login(client, username="13800000002").status_code == 200

    def test_failures_are_recorded_with_the_client_address(self, client, db):
        _register(client)
        assert _login(client, password="wrong password!").status_code == 401
        failure = db.scalar(select(LoginFailure).where(LoginFailure.username == "13800000001"))
        assert failure is not None and failure.ip == "testclient"

    def test_password_is_used_exactly_as_typed(self, client):
        r = _register(client, password="  spaced-pass  ")
        assert r.status_code == 201, r.text
        assert _login(client, password="spaced-pass").status_code == 401
        assert _login(client, password="  spaced-pass  ").status_code == 200

    def test_nul_and_overlong_usernames_are_401(self, client):
        for username in ("1380000\x000001", "x" * 65, "x" * 5000):
            r = _login(client, username=username)
            assert r.status_code == 401, (username[:20], r.text)
            assert r.json()["code"] == "invalid_credentials"

    def test_token_with_overflowing_subject_is_401(self, client, settings):
        for sub in (2**31, 2**63, -1, 0):
            token = issue_access_token(
                settings, account_id=sub, role="admin", jurisdiction=None, generation=0
            )
            r = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 401, (sub, r.text)
            assert r.json()["code"] == "invalid_token"

    def test_deactivated_account_cannot_log_in(self, client, db):
        _register(client)
        account = db.scalar(select(Account).where(Account.username == "13800000001"))
        account.is_active = False
        db.commit()
        r = _login(client)
        assert r.status_code == 401 and r.json()["code"] == "account_inactive"

    def test_missing_and_garbage_bearer(self, client):
        assert client.get("/api/v1/me").json()["code"] == "unauthorized"
        r = client.get("/api/v1/me", headers={"Authorization": "Bearer not.a.jwt"})
        assert r.status_code == 401 and r.json()["code"] == "invalid_token"


class TestRefresh:
    def test_rotation_and_reuse_detection(self, client, db):
        _register(client)
        first = _login(client).json()
        r = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert r.status_code == 200, r.text
        second = r.json()
        assert second["refresh_token"] != first["refresh_token"]
        # Replaying the spent token is theft: refused, and the whole family is revoked.
        replay = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert replay.status_code == 401 and replay.json()["code"] == "refresh_token_reused"
        after = client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
        assert after.status_code == 401 and after.json()["code"] == "invalid_token"
        assert all(t.revoked_at for t in db.scalars(select(RefreshToken)))

    def test_forged_token(self, client):
        _register(client)
        token = _login(client).json()["refresh_token"]
        forged = token.split(".")[0] + ".AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        r = client.post("/api/v1/auth/refresh", json={"refresh_token": forged})
        assert r.status_code == 401 and r.json()["code"] == "invalid_token"

    def test_logout_revokes(self, client):
        _register(client)
        pair = _login(client).json()
        headers = {"Authorization": f"Bearer {pair['access_token']}"}
        r = client.post("/api/v1/auth/logout", json={"refresh_token": pair["refresh_token"]}, headers=headers)
        assert r.status_code == 204
        again = client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert again.status_code == 401

    def test_cannot_log_out_someone_else(self, client, make_user):
        _register(client)
        pair = _login(client).json()
        other = make_user("mentor")
        r = client.post(
            "/api/v1/auth/logout", json={"refresh_token": pair["refresh_token"]}, headers=other.headers
        )
        assert r.status_code == 401
        assert (
            client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}).status_code
            == 200
        )


class TestLocalisation:
    def test_titles_follow_accept_language(self, client):
        zh = client.get("/api/v1/me")
        en = client.get("/api/v1/me", headers={"Accept-Language": "en-US,en;q=0.9"})
        assert zh.json()["title"] == "需要登录"
        assert en.json()["title"] == "Authentication required"
        assert en.headers["content-language"] == "en"

    def test_q_values_respected(self, client):
        r = client.get("/api/v1/me", headers={"Accept-Language": "en;q=0.2, zh-CN;q=0.9"})
        assert r.json()["title"] == "需要登录"
