"""No 5xx from user input: NUL characters, nulls in partial updates, oversized and chunked bodies, races."""

from __future__ import annotations

import base64
import http.client
import json
import re
import threading
from collections import Counter
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.tokens import issue_access_token
from app.config import Settings
from app.db import make_engine
from app.main import create_app
from app.models import Account, MatchingRun, Mentor, Newcomer
from app.pagination import encode_cursor
from tests.conftest import DAJI, JIANGSU, ZHAXIA, mentor_payload, newcomer_payload
from tests.live import live_server, private_database


class TestNonAsciiDigits:
    """Patterns say digits and mean 0-9: `\\d` would also let in full-width or Arabic-Indic digits."""

    def test_a_phone_with_full_width_digits_is_refused_at_sign_up(self, client, db):
        body = {"password": "tea-from-caoxian-x", "role": "newcomer", "display_name": "李大姐"}
        assert client.post("/api/v1/auth/register", json={**body, "phone": "13912345678"}).status_code == 201
        # The same number as people read it: it must not become a second account.
        r = client.post(
            "/api/v1/auth/register",
            json={**body, "phone": "13\uff19\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18"},
        )
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "phone"]
        assert db.scalar(select(func.count()).select_from(Account)) == 1

    def test_a_profile_phone_with_arabic_indic_digits_is_422(self, client, make_user):
        office = make_user("township_office", "321322115")
        r = client.post(
            "/api/v1/mentors",
            json=mentor_payload(phone="139\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668"),
            headers=office.headers,
        )
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "phone"]

    @pytest.mark.parametrize(
        "path",
        [
            "/api/v1/regions/%EF%BC%93%EF%BC%92",
            "/api/v1/regions?parent=%EF%BC%93%EF%BC%92",
            "/api/v1/mentors?region=%EF%BC%93%EF%BC%92",
            "/api/v1/proposals?region=%EF%BC%93%EF%BC%92",
            "/api/v1/models?jurisdiction=%EF%BC%93%EF%BC%92",
        ],
    )
    def test_a_region_code_in_full_width_digits_is_422(self, client, make_user, path):
        r = client.get(path, headers=make_user("admin").headers)
        assert r.status_code == 422 and r.json()["code"] == "validation_failed"

    def test_quiet_hours_in_full_width_digits_are_422(self, client, make_user):
        user = make_user("newcomer")
        body = {"quiet_start": "2\uff12:00", "quiet_end": "07:00"}
        r = client.put("/api/v1/me/notification-preferences", json=body, headers=user.headers)
        assert r.status_code == 422


class TestJsonScalars:
    """A JSON body says what it means: a number as text, or a boolean as 1 or "yes", is a 422."""

    @pytest.mark.parametrize("capacity", ["3", True, "", [3]])
    def test_a_count_that_is_not_a_json_number_is_422(self, client, db, make_user, capacity):
        office = make_user("township_office", ZHAXIA)
        r = client.post("/api/v1/mentors", json=mentor_payload(capacity=capacity), headers=office.headers)
        assert r.status_code == 422, r.text
        errors = r.json()["errors"]
        assert [e["loc"] for e in errors] == [["body", "capacity"]]
        assert errors[0]["type"] in {"int_type", "list_type"}
        assert db.scalar(select(func.count()).select_from(Mentor)) == 0

    @pytest.mark.parametrize(("capacity", "stored"), [(3, 3), (3.0, 3)])
    def test_a_json_number_is_taken(self, client, make_user, capacity, stored):
        office = make_user("township_office", ZHAXIA)
        r = client.post("/api/v1/mentors", json=mentor_payload(capacity=capacity), headers=office.headers)
        assert r.status_code == 201, r.text
        assert r.json()["capacity"] == stored

    @pytest.mark.parametrize(
        ("value", "accepted"), [("12.5", False), (False, False), (12, True), (12.5, True)]
    )
    def test_a_distance_is_a_json_number(self, client, make_user, value, accepted):
        owner = make_user("newcomer")
        created = client.post("/api/v1/newcomers", json=newcomer_payload(), headers=owner.headers)
        r = client.patch(
            f"/api/v1/newcomers/{created.json()['id']}",
            json={"courier_km": value},
            headers={**owner.headers, "If-Match": created.headers["etag"], "Accept-Language": "zh"},
        )
        if accepted:
            assert r.status_code == 200 and r.json()["courier_km"] == value, r.text
        else:
            assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "courier_km"], r.text
            assert r.json()["errors"][0]["msg"] == "应为数字"
            assert (
                client.get(f"/api/v1/newcomers/{created.json()['id']}", headers=owner.headers).json()[
                    "courier_km"
                ]
                == created.json()["courier_km"]
            )

    @pytest.mark.parametrize("flag", [1, 0, "true", "yes", "on"])
    def test_a_yes_or_no_is_a_json_boolean(self, client, db, make_user, flag):
        coordinator = make_user("coordinator", JIANGSU)
        body = {"scope_code": JIANGSU, "use_learned_ranker": flag}
        headers = {**coordinator.headers, "Accept-Language": "en"}
        r = client.post("/api/v1/matching-runs", json=body, headers=headers)
        assert r.status_code == 422, r.text
        assert r.json()["errors"] == [
            {
                "loc": ["body", "use_learned_ranker"],
                "msg": "Input should be a valid boolean",
                "type": "bool_type",
            }
        ]
        assert db.scalar(select(func.count()).select_from(MatchingRun)) == 0


class TestIdsInPaths:
    """An id in a path is plain digits: the lax int parser would give one resource many URLs."""

    @pytest.mark.parametrize("spelling", ["{}.0", "+{}", "0{}", "{}_0", "%20{}", "{}%20"])
    def test_other_spellings_of_an_id_are_422(self, client, make_user, spelling):
        office = make_user("township_office", "321322115")
        mentor_id = client.post("/api/v1/mentors", json=mentor_payload(), headers=office.headers).json()["id"]
        assert client.get(f"/api/v1/mentors/{mentor_id}", headers=office.headers).status_code == 200
        r = client.get(f"/api/v1/mentors/{spelling.format(mentor_id)}", headers=office.headers)
        assert r.status_code == 422 and r.json()["code"] == "validation_failed"
        assert r.json()["errors"][0]["loc"] == ["path", "profile_id"]

    def test_the_console_refuses_them_too(self, client, make_user):
        from tests.console.helpers import sign_in

        sign_in(client, make_user("coordinator", "37").username)
        # Not another address of run 1: in the console a path no id can have is a page that is not there.
        r = client.get("/console/runs/01")
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")


class TestNulCharacters:
    @pytest.mark.parametrize(
        "path",
        [
            "/api/v1/mentors?q=a%00b",
            "/api/v1/newcomers?q=%00",
            "/api/v1/regions/search?q=%E6%B2%AD%00",
            "/api/v1/regions?parent=32%00",
            "/api/v1/mentors?cursor=%00",
            "/api/v1/regions/32%00",
        ],
    )
    def test_in_query_or_path_is_422(self, client, make_user, path):
        r = client.get(path, headers=make_user("admin").headers)
        assert r.status_code == 422, r.text
        assert r.json()["code"] == "validation_failed"

    def test_in_a_cursor_is_422(self, client, make_user):
        r = client.get(
            "/api/v1/regions",
            params={"cursor": encode_cursor(["32\x00"])},
            headers=make_user("admin").headers,
        )
        assert r.status_code == 422 and r.json()["code"] == "invalid_cursor"

    @pytest.mark.parametrize(
        ("path", "forged"),
        [
            ("/api/v1/regions", '["\\ud800"]'),
            ("/api/v1/regions?parent=32", '["\\udfff"]'),
            ("/api/v1/proposals", "[1e400,5]"),
            ("/api/v1/proposals", "[-1e400,5]"),
        ],
    )
    def test_a_cursor_no_database_can_hold_is_422(self, client, make_user, path, forged):
        # A lone surrogate cannot be sent to the database (it was a 500); 1e400 reads as infinity.
        cursor = base64.urlsafe_b64encode(forged.encode()).decode().rstrip("=")
        coordinator = make_user("coordinator", "32")
        r = client.get(path, params={"cursor": cursor}, headers=coordinator.headers)
        assert r.status_code == 422 and r.json()["code"] == "invalid_cursor", r.text

    @pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
    def test_a_cursor_with_a_json_constant_is_422(self, client, make_user, constant):
        # The review queue sorts by score (a float): NaN or Infinity is no score a page ever ended on.
        forged = base64.urlsafe_b64encode(f"[{constant},1]".encode()).decode().rstrip("=")
        coordinator = make_user("coordinator", "32")
        r = client.get("/api/v1/proposals", params={"cursor": forged}, headers=coordinator.headers)
        assert r.status_code == 422 and r.json()["code"] == "invalid_cursor"

    def test_in_nested_body_strings_is_422_naming_the_field(self, client, make_user):
        body = mentor_payload(
            resources_offered=[{"type": "logistics", "description": "冷链\x00"}], honours=["示范户\x00"]
        )
        r = client.post("/api/v1/mentors", json=body, headers=make_user("mentor").headers)
        assert r.status_code == 422, r.text
        assert {e["loc"][-1] for e in r.json()["errors"]} == {"resources_offered", "honours"}


class TestNullInPartialUpdate:
    @pytest.mark.parametrize(
        "field",
        ["name", "kind", "region_code", "capacity", "products", "resources_offered", "channels", "languages"],
    )
    def test_mentor_required_field_null_is_422(self, client, make_user, field):
        owner = make_user("mentor")
        created = client.post("/api/v1/mentors", json=mentor_payload(), headers=owner.headers)
        assert created.status_code == 201, created.text
        r = client.patch(
            f"/api/v1/mentors/{created.json()['id']}",
            json={field: None},
            headers={**owner.headers, "If-Match": created.headers["etag"]},
        )
        assert r.status_code == 422, r.text
        assert [e["loc"][-1] for e in r.json()["errors"]] == [field]

    @pytest.mark.parametrize(
        "field",
        [
            "name",
            "region_code",
            "products",
            "channels",
            "experience_years",
            "resources_needed",
            "internet",
            "languages",
            "goals",
            "story",
        ],
    )
    def test_newcomer_required_field_null_is_422(self, client, make_user, field):
        owner = make_user("newcomer")
        created = client.post("/api/v1/newcomers", json=newcomer_payload(), headers=owner.headers)
        assert created.status_code == 201, created.text
        r = client.patch(
            f"/api/v1/newcomers/{created.json()['id']}",
            json={field: None},
            headers={**owner.headers, "If-Match": created.headers["etag"]},
        )
        assert r.status_code == 422, r.text
        assert [e["loc"][-1] for e in r.json()["errors"]] == [field]

    def test_optional_fields_can_still_be_cleared(self, client, make_user):
        owner = make_user("mentor")
        created = client.post("/api/v1/mentors", json=mentor_payload(), headers=owner.headers)
        r = client.patch(
            f"/api/v1/mentors/{created.json()['id']}",
            json={"phone": None, "years_selling": None, "contact_name": None},
            headers={**owner.headers, "If-Match": created.headers["etag"]},
        )
        assert r.status_code == 200, r.text
        assert r.json()["phone"] is None and r.json()["years_selling"] is None


class TestAccountJurisdiction:
    @pytest.mark.parametrize("role", ["mentor", "newcomer", "admin"])
    def test_jurisdiction_on_an_account_without_one_is_422(self, client, make_user, db, role):
        admin, target = make_user("admin"), make_user(role)
        r = client.patch(
            f"/api/v1/accounts/{target.id}", json={"jurisdiction_code": "32"}, headers=admin.headers
        )
        assert r.status_code == 422, r.text
        assert r.json()["code"] == "jurisdiction_not_allowed"
        assert db.get(Account, target.id).jurisdiction_code is None

    def test_mobile_account_may_be_patched_with_null_jurisdiction(self, client, make_user):
        admin, target = make_user("admin"), make_user("mentor")
        r = client.patch(
            f"/api/v1/accounts/{target.id}", json={"jurisdiction_code": None}, headers=admin.headers
        )
        assert r.status_code == 200, r.text


class TestBodyLimit:
    def test_chunked_body_over_the_limit_is_413_like_a_declared_one(self, client, make_user, settings):
        headers = {**make_user("mentor").headers, "Content-Type": "application/json"}
        size = settings.max_json_body_bytes + 100_000

        def chunks():
            yield b'{"story": "'
            for _ in range(size // 10_000):
                yield b"x" * 10_000
            yield b'"}'

        chunked = client.post("/api/v1/mentors", content=chunks(), headers=headers)
        declared = client.post("/api/v1/mentors", content=b"".join(chunks()), headers=headers)
        assert "content-length" not in chunked.request.headers
        assert chunked.status_code == declared.status_code == 413, chunked.text
        assert chunked.json()["code"] == declared.json()["code"] == "payload_too_large"
        assert chunked.json()["limit_bytes"] == settings.max_json_body_bytes

    def test_chunked_body_under_the_limit_is_read_whole(self, client, make_user):
        raw = json.dumps(mentor_payload()).encode()

        def chunks():
            for i in range(0, len(raw), 7):
                yield raw[i : i + 7]

        r = client.post(
            "/api/v1/mentors",
            content=chunks(),
            headers={**make_user("mentor").headers, "Content-Type": "application/json"},
        )
        assert r.status_code == 201, r.text


def test_a_500_leaves_the_keep_alive_connection_usable(settings):
    app = create_app(settings)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    with live_server(settings, app) as base:
        url = urlsplit(base)
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        try:
            conn.request("GET", "/boom")
            first = conn.getresponse()
            body = first.read()
            assert first.status == 500 and b"internal_error" in body
            assert first.getheader("content-type").startswith("application/problem+json")
            sock = conn.sock
            assert sock is not None, "the server closed the connection after the 500"
            conn.request("GET", "/healthz")
            second = conn.getresponse()
            second.read()
            assert second.status == 200
            assert conn.sock is sock  # the same connection answered both
        finally:
            conn.close()


@pytest.fixture(scope="module")
def live(database_url, tmp_path_factory):
    with private_database(database_url, tmp_path_factory.mktemp("bad-live")) as url:
        settings = Settings(
            env="test",
            database_url=url,
            secret_key="live-secret-key-0123456789abcdef",
            run_worker=False,
            log_level="WARNING",
        )
        engine = make_engine(url)
        with live_server(settings) as base:
            yield settings, engine, base
        engine.dispose()


def test_ten_concurrent_creates_by_one_newcomer_give_one_profile(live):
    settings, engine, base = live
    with Session(engine) as s:
        account = Account(username="13755550000", password_hash="x", role="newcomer", display_name="n")
        s.add(account)
        s.commit()
        account_id = account.id
    token = issue_access_token(
        settings, account_id=account_id, role="newcomer", jurisdiction=None, generation=0
    )
    barrier = threading.Barrier(10)
    results: list[httpx.Response] = []

    def send() -> None:
        with httpx.Client(base_url=base, timeout=60) as client:
            barrier.wait()
            results.append(
                client.post(
                    "/api/v1/newcomers",
                    json=newcomer_payload(region_code=DAJI),
                    headers={"Authorization": f"Bearer {token}"},
                )
            )

    threads = [threading.Thread(target=send) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    outcome = Counter((r.status_code, r.json().get("code")) for r in results)
    assert outcome == {(201, None): 1, (409, "profile_exists"): 9}, outcome
    with Session(engine) as s:
        assert s.scalar(select(func.count()).where(Newcomer.account_id == account_id)) == 1


def test_partial_update_keeps_nested_defaults(client, make_user):
    owner = make_user("mentor")
    created = client.post("/api/v1/mentors", json=mentor_payload(), headers=owner.headers)
    r = client.patch(
        f"/api/v1/mentors/{created.json()['id']}",
        json={"resources_offered": [{"type": "logistics"}]},
        headers={**owner.headers, "If-Match": created.headers["etag"]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["resources_offered"] == [{"type": "logistics", "description": ""}]


def test_nul_in_an_import_form_field_is_422(client, make_user):
    office = make_user("township_office", "321322115")
    r = client.post(
        "/api/v1/imports",
        files={"file": ("a.csv", "名称\n张三\n".encode(), "text/csv")},
        data={"sheet": "表\x00"},
        headers=office.headers,
    )
    assert r.status_code == 422, r.text
    assert [e["loc"][-1] for e in r.json()["errors"]] == ["sheet"]


class TestABodyWhereNoneIsTaken:
    """A route that takes no body refuses one (it would ignore it, and its caller would not know)."""

    def _bodiless_routes(self, app):  # type: ignore[no-untyped-def]
        # Every operation is in the API document; one without a requestBody takes none.
        for path, ops in app.openapi()["paths"].items():
            for method, op in ops.items():
                if method in ("post", "put", "patch", "delete") and "requestBody" not in op:
                    yield method.upper(), re.sub(r"\{\w+\}", "1", path)

    def test_every_bodiless_write_route_refuses_a_body(self, client):
        routes = list(self._bodiless_routes(client.app))
        assert len(routes) >= 5  # retrain, cancel, confirm, revoke, delete... are among them
        for method, path in routes:
            r = client.request(method, path, json={"jurisdiction": "32"})
            assert r.status_code == 422 and r.json()["code"] == "body_not_expected", (method, path, r.text)
            text = client.request(
                method, path, content=b"not json at all", headers={"content-type": "text/plain"}
            )
            assert text.status_code == 422, (method, path)

    def test_nothing_sent_is_still_nothing(self, client, make_user):
        admin = make_user("admin")
        for body in (None, b"{}", b"null", b"  "):
            r = client.post("/api/v1/models/retrain", content=body, headers=admin.headers)
            assert r.json().get("code") != "body_not_expected", (body, r.text)


def _routes(routes):  # type: ignore[no-untyped-def]
    from fastapi.routing import APIRoute

    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # an included router, as the framework keeps it
            yield from _routes(route.original_router.routes)


def test_every_json_body_is_an_input(app):
    # Input holds the body rules (no unknown field, no NUL, no invisible marks, JSON types); a body model
    # outside it skips them all, as the notification preferences once did.
    from fastapi import params

    from app.schemas import Input

    bodies = {
        route.path: route.body_field.field_info.annotation
        for route in _routes(app.routes)
        # Forms (sign-in, uploads) are checked field by field; only JSON bodies are models of ours.
        if route.include_in_schema
        and route.body_field is not None
        and not isinstance(route.body_field.field_info, params.Form)
    }
    assert "/api/v1/me/notification-preferences" in bodies and len(bodies) > 20
    plain = {
        path: model
        for path, model in bodies.items()
        if not all(issubclass(m, Input) for m in getattr(model, "__args__", (model,)) if m is not type(None))
    }
    assert plain == {}


def test_the_public_verification_counts_on_a_real_server(live):
    # A GET's transactions are read-only on SQLite; the look-up limit writes its counter all the same
    # (it was a 500 on a real server, where the test client's shared connection had hidden it).
    _, _, base = live
    with httpx.Client(base_url=base, timeout=30) as client:
        codes = [client.get(f"/verify/ABCD-EFGH-JKLM-{n:04d}").status_code for n in range(20)]
        codes += [client.get("/api/v1/verify/ABCD-EFGH-JKLM-NPQR").status_code]
    assert codes == [404] * 20 + [429]


class TestBodyMediaType:
    """A body of another kind than the route takes is a 415 naming the accepted types (after sign-in and
    the role check, as the query's 422 is)."""

    @pytest.mark.parametrize("media", ["application/x-www-form-urlencoded", "text/plain", "text/csv"])
    def test_a_json_route_refuses_another_media_type(self, client, db, media):
        body = b'{"phone":"13912345678","password":"tea-from-caoxian-x","role":"newcomer","display_name":"x"}'
        r = client.post("/api/v1/auth/register", content=body, headers={"Content-Type": media})
        assert r.status_code == 415 and r.json()["code"] == "unsupported_media_type", r.text
        assert r.json()["accepted"] == ["application/json"]
        assert db.scalar(select(func.count()).select_from(Account)) == 0

    @pytest.mark.parametrize("media", ["application/json", "application/json; charset=utf-8"])
    def test_json_with_or_without_a_charset_is_taken(self, client, media):
        body = b'{"phone":"13912345678","password":"tea-from-caoxian-x","role":"newcomer","display_name":"x"}'
        r = client.post("/api/v1/auth/register", content=body, headers={"Content-Type": media})
        assert r.status_code == 201, r.text

    def test_an_upload_route_refuses_a_file_sent_as_the_body(self, client, make_user):
        csv_body = {"content": b"name,phone\n", "headers": {"Content-Type": "text/csv"}}
        assert client.post("/api/v1/imports", **csv_body).status_code == 401
        mentor = make_user("mentor")
        r = client.post(
            "/api/v1/imports", content=csv_body["content"], headers={**csv_body["headers"], **mentor.headers}
        )
        assert r.status_code == 403
        office = make_user("township_office", ZHAXIA)
        r = client.post(
            "/api/v1/imports", content=csv_body["content"], headers={**csv_body["headers"], **office.headers}
        )
        assert r.status_code == 415 and r.json()["accepted"] == [
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ]
