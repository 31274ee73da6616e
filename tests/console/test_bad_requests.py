"""What the console answers to requests no form of its own sends: a page in words, never JSON or a 500.

Refusals made in front of the routes (a body over the limit, NUL in the query) and bytes the CSRF layer
cannot read (a non-UTF-8 form or cookie, multipart where no file is taken) are pages with the
navigation of the signed-in account, like every other error page.
"""

from __future__ import annotations

import asyncio
import concurrent.futures

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.main import create_app
from app.models import MatchingRun, RosterImport
from tests.conftest import JIANGSU, ZHAXIA
from tests.console.helpers import sign_in

ROSTER = "外部编号,名称,类型,手机号,行政区划代码,主营产品,可分享资源\n".encode()


def _is_page(response) -> bool:  # type: ignore[no-untyped-def]
    return response.headers["content-type"].startswith("text/html") and "<nav" in response.text


def test_an_upload_over_the_limit_is_a_page_that_says_the_limit(
    settings, engine, session_factory, make_user, db
):
    small = settings.model_copy(update={"import_max_bytes": 2_000})
    app = create_app(small, engine=engine)
    app.state.sessionmaker = session_factory
    office = make_user("township_office", ZHAXIA)
    with TestClient(app, raise_server_exceptions=False) as c:
        token = sign_in(c, office.username)
        big = ROSTER + b"x" * 100_000  # past the multipart allowance too: refused in front of the route
        r = c.post(
            "/console/office/imports",
            files={"file": ("roster.csv", big, "text/csv")},
            data={"csrftoken": token},
            follow_redirects=False,
        )
    assert r.status_code == 413 and _is_page(r), r.text[:300]
    assert "2,000 字节" in r.text and "/console/office/imports" in r.text  # the nav leads back to imports
    assert db.scalar(select(func.count()).select_from(RosterImport)) == 0


def test_the_api_says_the_limit_in_its_problem(client, make_user, settings):
    headers = {**make_user("mentor").headers, "Content-Type": "application/json"}
    r = client.post("/api/v1/mentors", content=b"x" * (settings.max_json_body_bytes + 1), headers=headers)
    assert r.status_code == 413 and r.json()["code"] == "payload_too_large"
    assert f"{settings.max_json_body_bytes:,}" in r.json()["detail"]


def test_multipart_where_no_file_is_taken_is_415_and_nothing_is_queued(client, make_user, db):
    token = sign_in(client, make_user("coordinator", JIANGSU).username)
    r = client.post(
        "/console/runs",
        files={"file": ("a.csv", b"x", "text/csv")},
        data={"csrftoken": token, "scope_code": JIANGSU},
        follow_redirects=False,
    )
    assert r.status_code == 415 and _is_page(r)
    assert db.scalar(select(func.count()).select_from(MatchingRun)) == 0


def test_a_form_that_is_not_utf8_is_a_400_page(client, make_user, db):
    token = sign_in(client, make_user("coordinator", JIANGSU).username)
    body = f"csrftoken={token}&scope_code=".encode() + "江苏".encode("gbk")
    r = client.post(
        "/console/runs",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert r.status_code == 400 and _is_page(r) and "UTF-8" in r.text
    assert db.scalar(select(func.count()).select_from(MatchingRun)) == 0
    # The same form in UTF-8 still reaches the route (the body read here is passed on whole).
    r = client.post(
        "/console/runs",
        content=f"csrftoken={token}&scope_code={JIANGSU}".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[:300]
    assert db.scalar(select(func.count()).select_from(MatchingRun)) == 1


def test_a_cookie_that_is_not_utf8_is_a_400_page(app):
    # Straight to the ASGI app: the test client re-encodes header bytes, a server passes them as sent.
    status, headers = _run_apart(_raw_get(app, "/console/login", [(b"cookie", b"x=" + "江".encode("gbk"))]))
    assert status == 400 and headers[b"content-type"].startswith(b"text/html")
    status, _ = _run_apart(_raw_get(app, "/console/login", [(b"cookie", "x=江".encode())]))
    assert status == 200


def _run_apart(call):  # type: ignore[no-untyped-def]
    # On a thread of its own: a browser test earlier in the session may leave this thread's loop running.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, call).result()


async def _raw_get(app, path: str, headers: list[tuple[bytes, bytes]]) -> tuple[int, dict[bytes, bytes]]:  # type: ignore[no-untyped-def]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "app": app,
    }
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], dict(start["headers"])


def test_nul_in_a_console_query_is_a_422_page(client, make_user):
    sign_in(client, make_user("coordinator", JIANGSU).username)
    r = client.get("/console/proposals?q=%00")
    assert r.status_code == 422 and _is_page(r) and "NUL" in r.text
    assert "/console/proposals" in r.text  # the navigation of a coordinator


def test_a_bearer_header_does_not_lift_the_csrf_check(client, make_user, db):
    user = make_user("coordinator", JIANGSU)
    sign_in(client, user.username)
    r = client.post(
        "/console/runs",
        data={"scope_code": JIANGSU},
        headers={"Authorization": "Bearer anything"},
        follow_redirects=False,
    )
    assert r.status_code == 403 and "csrf_failed" in r.text
    assert db.scalar(select(func.count()).select_from(MatchingRun)) == 0


def test_an_error_page_keeps_the_navigation(client, make_user):
    sign_in(client, make_user("coordinator", JIANGSU).username)
    r = client.get("/console/no-such-page")
    assert r.status_code == 404 and _is_page(r) and 'href="/console/runs"' in r.text
    r = client.get("/console/proposals/999999")
    assert r.status_code == 404 and 'href="/console/runs"' in r.text


def test_an_id_that_cannot_exist_is_a_404_page(client, make_user):
    sign_in(client, make_user("coordinator", JIANGSU).username)
    for path in ("/console/proposals/0", "/console/proposals/abc", "/console/runs/99999999999999"):
        r = client.get(path)
        assert r.status_code == 404 and _is_page(r), path
    assert client.get("/console/proposals?min_score=7").status_code == 422  # a bad filter is the visitor's
