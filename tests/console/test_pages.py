"""Console pages through the test client: sign-in rules, sessions, CSRF, languages, offline docs."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.models import Account, Match, MatchingRun, Mentor
from tests.conftest import JIANGSU, SHANDONG, ZHAXIA
from tests.console.helpers import csrf_token, sign_in


def test_root_leads_to_the_console_and_anonymous_to_sign_in(client):
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/console"
    r = client.get("/console/proposals?min_score=0.5", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/console/login?next=/console/proposals%3Fmin_score%3D0.5"


def test_coordinator_signs_in_sees_home_and_signs_out_for_good(client, make_user):
    user = make_user("coordinator", JIANGSU)
    sign_in(client, user.username)
    cookie = client.cookies.get("jd_session")
    assert cookie
    home = client.get("/console")
    assert home.status_code == 200 and 'data-count="pending"' in home.text
    token = csrf_token(client, "/console")
    r = client.post("/console/logout", data={"csrftoken": token}, follow_redirects=False)
    assert r.status_code == 303
    # A copy of the old cookie is worthless: the login was revoked on the server.
    client.cookies.set("jd_session", cookie, path="/console")
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_a_form_sent_after_the_session_ended_leads_back_to_its_page_and_says_it_was_not_saved(
    client, make_user, db
):
    user = make_user("coordinator", JIANGSU)
    sign_in(client, user.username)
    token = csrf_token(client, "/console/runs")
    from app.accounts.service import end_logins

    end_logins(db, db.get(Account, user.id))  # as a sign-out elsewhere or a password reset does
    db.commit()
    r = client.post(
        "/console/runs",
        data={"csrftoken": token, "k": "10"},
        headers={"referer": "http://testserver/console/runs?status=done"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/console/login?next=/console/runs%3Fstatus%3Ddone&unsaved=1"
    page = client.get(r.headers["location"]).text
    assert 'id="unsaved"' in page and "没有保存" in page
    assert db.scalar(select(func.count()).select_from(MatchingRun)) == 0


def test_session_cookie_is_httponly_and_samesite(client, make_user):
    user = make_user("coordinator", JIANGSU)
    token = csrf_token(client)
    r = client.post(
        "/console/login",
        data={"csrftoken": token, "username": user.username, "password": "correct horse battery"},
        follow_redirects=False,
    )
    header = r.headers["set-cookie"].lower()
    assert "jd_session=" in header and "httponly" in header and "samesite=lax" in header


def test_deactivation_ends_the_session_at_once(client, make_user, db):
    from app.models import Account

    user = make_user("township_office", ZHAXIA)
    sign_in(client, user.username)
    assert client.get("/console").status_code == 200
    account = db.get(Account, user.id)
    account.is_active = False
    db.commit()
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_an_admin_reactivates_an_account_and_may_not_deactivate_their_own(client, make_user, db):
    admin, office = make_user("admin"), make_user("township_office", ZHAXIA)
    make_user("admin")  # not the last admin: the self rule is its own
    sign_in(client, admin.username)
    token = csrf_token(client, "/console/admin/accounts")
    r = client.post(f"/console/admin/accounts/{office.id}/deactivate", data={"csrftoken": token})
    assert r.status_code == 200 and f'action="/console/admin/accounts/{office.id}/reactivate"' in r.text
    db.expire_all()
    assert db.get(Account, office.id).is_active is False
    r = client.post(f"/console/admin/accounts/{office.id}/reactivate", data={"csrftoken": token})
    assert r.status_code == 200 and f"/accounts/{office.id}/deactivate" in r.text
    db.expire_all()
    assert db.get(Account, office.id).is_active is True
    # The page offers no button for one's own account, and the service refuses the POST too.
    r = client.post(f"/console/admin/accounts/{admin.id}/deactivate", data={"csrftoken": token})
    assert r.status_code == 409 and "不能停用自己的账号" in r.text
    db.expire_all()
    assert db.get(Account, admin.id).is_active is True
    assert client.get("/console/admin/accounts").status_code == 200


def test_staff_on_another_roles_page_are_told_whose_page_it_is(client, make_user):
    office = make_user("township_office", ZHAXIA)
    sign_in(client, office.username)
    r = client.get("/console/proposals")
    assert r.status_code == 403 and "此页面仅供协调员使用" in r.text and "手机应用" not in r.text
    client.cookies.clear()
    sign_in(client, make_user("coordinator", JIANGSU).username)
    r = client.get("/console/office/imports")
    assert r.status_code == 403 and "此页面仅供乡镇办公室使用" in r.text


def test_mobile_roles_are_refused_politely(client, make_user):
    user = make_user("mentor")
    token = csrf_token(client)
    r = client.post(
        "/console/login",
        data={"csrftoken": token, "username": user.username, "password": "correct horse battery"},
        follow_redirects=False,
    )
    assert r.status_code == 403
    assert "工作台仅供协调员" in r.text
    assert "jd_session" not in r.headers.get("set-cookie", "")


def test_wrong_password_shows_the_form_again(client, make_user):
    user = make_user("coordinator", JIANGSU)
    token = csrf_token(client)
    r = client.post(
        "/console/login", data={"csrftoken": token, "username": user.username, "password": "nope-nope"}
    )
    assert r.status_code == 401 and 'name="password"' in r.text


def test_a_form_without_the_csrf_token_is_refused(client, make_user):
    user = make_user("coordinator", JIANGSU)
    sign_in(client, user.username)
    r = client.post("/console/runs", data={"scope_code": JIANGSU}, follow_redirects=False)
    assert r.status_code == 403 and "csrf_failed" in r.text
    r = client.post("/console/runs", data={"csrftoken": "forged", "scope_code": JIANGSU})
    assert r.status_code == 403
    # Nothing was queued.
    assert "#1" not in client.get("/console/runs").text


def test_login_itself_needs_the_token(client, make_user):
    user = make_user("coordinator", JIANGSU)
    r = client.post(
        "/console/login",
        data={"username": user.username, "password": "correct horse battery"},
        follow_redirects=False,
    )
    assert r.status_code == 403


def test_english_by_the_switch(client, make_user):
    user = make_user("coordinator", JIANGSU)
    sign_in(client, user.username)
    assert "审核队列" in client.get("/console").text
    r = client.get("/console/lang/en?next=/console", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console"
    page = client.get("/console")
    assert "Review queue" in page.text and '<html lang="en">' in page.text


def test_docs_are_served_from_local_assets(client):
    page = client.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower()
    assert "/docs-static/swagger-ui-bundle.js" in page.text
    assert client.get("/docs-static/swagger-ui-bundle.js").status_code == 200


def test_an_upload_without_the_token_is_refused(client, make_user):
    user = make_user("township_office", ZHAXIA)
    token = sign_in(client, user.username)
    files = {"file": ("roster.csv", "名称,手机号\n甲,13912345678\n".encode(), "text/csv")}
    r = client.post(
        "/console/office/imports", files=files, data={"csrftoken": "forged"}, follow_redirects=False
    )
    assert r.status_code == 403 and "csrf_failed" in r.text
    r = client.post("/console/office/imports", files=files, follow_redirects=False)
    assert r.status_code == 403
    r = client.post("/console/office/imports", files=files, data={"csrftoken": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/console/office/imports/")


def test_an_empty_or_pdf_upload_is_answered_on_the_form_page(client, make_user, db):
    from sqlalchemy import func, select

    from app.models import RosterImport

    user = make_user("township_office", ZHAXIA)
    token = sign_in(client, user.username)
    for name, content, said in [("名单.csv", b"", "文件为空"), ("名单.csv", b"%PDF-1.7\n", "不是表格")]:
        files = {"file": (name, content, "application/octet-stream")}
        r = client.post(
            "/console/office/imports", files=files, data={"csrftoken": token}, follow_redirects=False
        )
        assert r.status_code == 422 and said in r.text and 'type="file"' in r.text
    assert db.scalar(select(func.count()).select_from(RosterImport)) == 0
    # The file picker offers every format the import reads (it hid .xls and .ods files).
    accept = re.search(r'type="file" accept="([^"]+)"', client.get("/console/office/imports").text)
    assert accept is not None and {".csv", ".xlsx", ".xls", ".ods"} <= set(accept.group(1).split(","))


def test_next_past_the_last_proposal_returns_to_the_queue_with_a_notice(client, make_user):
    user = make_user("coordinator", JIANGSU)
    sign_in(client, user.username)
    r = client.get("/console/proposals/next?min_score=0.5", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/console/proposals?min_score=0.5&done=end_of_queue"
    queue = client.get(r.headers["location"])
    assert queue.status_code == 200 and 'id="end-of-queue"' in queue.text


class TestAdminFormsKeepTheApiRules:
    """The console's account forms refuse what the API's bodies refuse (NUL, blank names): a 422 page."""

    def _form(self, client, make_user):  # type: ignore[no-untyped-def]
        sign_in(client, make_user("admin").username)
        return csrf_token(client, "/console/admin/accounts")

    def _count(self, db, username: str) -> int:  # type: ignore[no-untyped-def]
        from sqlalchemy import func, select

        from app.models import Account

        return db.scalar(select(func.count()).select_from(Account).where(Account.username == username))

    def test_nul_or_a_blank_name_in_a_new_account_is_a_422_page(self, client, make_user, db):
        token = self._form(client, make_user)
        base = {"csrftoken": token, "password": "flowers-and-trees-2026", "role": "coordinator"}
        for n, fields in enumerate(
            (
                {"display_name": "宿迁\x00中心", "jurisdiction_code": JIANGSU},
                {"display_name": "宿迁中心", "jurisdiction_code": "3\x002"},
                {"display_name": "   ", "jurisdiction_code": JIANGSU},
            )
        ):
            r = client.post("/console/admin/accounts", data={**base, "username": f"coord-{n}", **fields})
            assert r.status_code == 422 and r.headers["content-type"].startswith("text/html"), r.text[:300]
            assert self._count(db, f"coord-{n}") == 0
        r = client.post(
            "/console/admin/accounts",
            data={**base, "username": "coord-ok", "display_name": " 宿迁中心 ", "jurisdiction_code": JIANGSU},
            follow_redirects=False,
        )
        assert r.status_code == 303 and self._count(db, "coord-ok") == 1

    def test_nul_in_a_reset_password_is_a_422_page(self, client, make_user):
        target = make_user("coordinator", JIANGSU)
        token = self._form(client, make_user)
        r = client.post(
            f"/console/admin/accounts/{target.id}/password",
            data={"csrftoken": token, "password": "new-pass\x00word-2026"},
            follow_redirects=False,
        )
        assert r.status_code == 422
        # The old password still signs in: nothing was changed.
        other = client.__class__(client.app)
        sign_in(other, target.username)
        assert other.cookies.get("jd_session")


class TestSessionLifetimeHeldOnTheServer:
    """The session cookie's 12 hours, and a login token nobody else used, are checked by the server."""

    def test_a_session_older_than_its_hours_is_over_even_if_the_cookie_is_kept(self, client, make_user, db):
        from datetime import timedelta

        from sqlalchemy import update

        from app.console.session import SESSION_HOURS
        from app.db import utcnow
        from app.models import RefreshToken

        user = make_user("coordinator", JIANGSU)
        sign_in(client, user.username)
        assert client.get("/console", follow_redirects=False).status_code == 200
        # The browser forgets the cookie after max-age; a copy of it must not outlive that on the server.
        db.execute(
            update(RefreshToken)
            .where(RefreshToken.account_id == user.id)
            .values(created_at=utcnow() - timedelta(hours=SESSION_HOURS, minutes=1))
        )
        db.commit()
        r = client.get("/console", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/console/login")

    def test_a_session_token_spent_at_the_api_is_no_session(self, client, make_user):
        user = make_user("coordinator", JIANGSU)
        sign_in(client, user.username)
        cookie = client.cookies.get("jd_session")
        # Someone with a copy of the (HttpOnly) cookie trades it for API tokens.
        r = client.post("/api/v1/auth/refresh", json={"refresh_token": cookie})
        assert r.status_code == 200
        r = client.get("/console", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/console/login")

    def test_signing_out_ends_the_api_tokens_traded_for_the_session(self, client, make_user):
        user = make_user("coordinator", JIANGSU)
        sign_in(client, user.username)
        traded = client.post("/api/v1/auth/refresh", json={"refresh_token": client.cookies.get("jd_session")})
        assert traded.status_code == 200
        token = csrf_token(client, "/console/login")
        assert (
            client.post("/console/logout", data={"csrftoken": token}, follow_redirects=False).status_code
            == 303
        )
        r = client.post("/api/v1/auth/refresh", json={"refresh_token": traded.json()["refresh_token"]})
        assert r.status_code == 401


def test_console_answers_are_not_framed_sniffed_or_stored(client, make_user):
    user = make_user("township_office", ZHAXIA)
    sign_in(client, user.username)
    answers = [
        client.get("/console"),
        client.get("/console/office/roster"),
        client.get("/console/login", follow_redirects=False),
        client.post("/console/runs", data={"csrftoken": "forged"}),  # the CSRF refusal page
        client.get("/console/no-such-page"),
    ]
    for r in answers:
        assert r.headers["x-frame-options"] == "DENY", r.request.url
        assert r.headers["content-security-policy"] == "frame-ancestors 'none'"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["cache-control"] == "no-store"
    # Static assets may be cached (they hold no one's data) but are never sniffed.
    asset = client.get("/console/static/console.css")
    assert asset.status_code == 200 and "no-store" not in asset.headers.get("cache-control", "")
    assert asset.headers["x-content-type-options"] == "nosniff"


def test_a_refusal_reads_as_one_sentence_in_each_language():
    from app.console.i18n import error_text
    from app.errors import Unprocessable

    empty = Unprocessable(code="file_empty", detail=("文件为空。", "The file is empty."))
    assert (error_text(empty, "zh-CN"), error_text(empty, "en")) == ("文件为空。", "The file is empty.")
    other = Unprocessable(code="region_not_found", detail=("没有 99", "no region 99"))
    assert error_text(other, "zh-CN") == "行政区划代码不存在：没有 99"
    assert error_text(other, "en") == "Unknown region code: no region 99"
    assert error_text(Unprocessable(code="region_not_found"), "en") == "Unknown region code"
    # A detail that begins with the title says it once, not "起止日期不正确：起止日期不正确……".
    long = Unprocessable(
        code="invalid_date_range", detail=("起止日期不正确（最长五年）", "Invalid date range: x")
    )
    assert (error_text(long, "zh-CN"), error_text(long, "en")) == (
        "起止日期不正确（最长五年）",
        "Invalid date range: x",
    )
    backwards = Unprocessable(
        code="invalid_date_range", detail=("开始日期晚于结束日期", "the start date is after the end date")
    )
    assert error_text(backwards, "zh-CN") == "起止日期不正确：开始日期晚于结束日期"


def test_a_run_is_cancelled_from_its_page(client, make_user, db, drain):
    user = make_user("coordinator", JIANGSU)
    token = sign_in(client, user.username)
    started = client.post(
        "/console/runs", data={"csrftoken": token, "scope_code": JIANGSU}, follow_redirects=False
    )
    assert started.status_code == 303
    url = started.headers["location"]
    run_id = int(url.rsplit("/", 1)[1])
    shown = client.get(url).text
    assert f'action="/console/runs/{run_id}/cancel"' in shown
    # Without the token nothing happens.
    assert client.post(f"{url}/cancel", data={}, follow_redirects=False).status_code == 403
    assert db.get(MatchingRun, run_id).status == "queued"
    # The cancel form carries the token itself, and a browser posts that one.
    cancel_form = rf'action="{url}/cancel">\s*<input type="hidden" name="csrftoken" value="([^"]*)"'
    form = re.search(cancel_form, shown)
    assert form and form.group(1), "the cancel form has no CSRF token"
    r = client.post(f"{url}/cancel", data={"csrftoken": form.group(1)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == url
    shown = client.get(url).text
    assert "已取消" in shown and "此任务已取消" in shown and f"{url}/cancel" not in shown
    db.expire_all()
    assert db.get(MatchingRun, run_id).status == "cancelled"


def test_cancelling_a_finished_run_is_answered_on_its_page(client, make_user, drain):
    user = make_user("coordinator", JIANGSU)
    token = sign_in(client, user.username)
    url = client.post(
        "/console/runs", data={"csrftoken": token, "scope_code": JIANGSU}, follow_redirects=False
    ).headers["location"]
    drain()
    r = client.post(f"{url}/cancel", data={"csrftoken": token})
    assert r.status_code == 409 and "匹配任务已结束" in r.text and 'role="alert"' in r.text
    # A coordinator of another province gets the console's not-found page, and the run stays done.
    elsewhere = make_user("coordinator", "37")
    other_token = sign_in(client, elsewhere.username)
    assert client.post(f"{url}/cancel", data={"csrftoken": other_token}).status_code == 404


def test_a_failed_sign_in_says_why_in_words(client, make_user):
    # The page showed the bare code (invalid_credentials) in either language.
    user = make_user("coordinator", JIANGSU)
    r = client.post(
        "/console/login",
        data={"csrftoken": csrf_token(client), "username": user.username, "password": "wrong password!"},
    )
    assert "用户名或密码错误" in r.text and "invalid_credentials" not in r.text
    client.get("/console/lang/en?next=/console/login")
    r = client.post(
        "/console/login",
        data={"csrftoken": csrf_token(client), "username": user.username, "password": "wrong password!"},
    )
    assert "Invalid username or password" in r.text and "invalid_credentials" not in r.text


def test_approving_with_every_commitment_cleared_asks_for_one(client, db, make_user, pair):
    # Clearing them all used to approve with all the suggestions kept, the opposite of what was asked.
    user = make_user("coordinator", SHANDONG)
    sign_in(client, user.username)
    url = f"/console/proposals/{pair.match_id}"
    token = csrf_token(client, url)
    form = {
        "csrftoken": token,
        "version": "1",
        "resource_type": "logistics",
        "area": "after_sales_follow_up",
        "description": "  ",
        "cadence_days": "14",
    }
    r = client.post(f"{url}/approve", data=form)
    assert r.status_code == 422 and "至少保留一项资源分享承诺" in r.text
    db.expire_all()
    assert db.get(Match, pair.match_id).status == "proposed"
    form["description"] = "每月一次物流对接"
    assert client.post(f"{url}/approve", data=form).status_code == 200
    db.expire_all()
    match = db.get(Match, pair.match_id)
    assert match.status == "approved" and match.suggested_commitments[0]["description"] == "每月一次物流对接"


def test_the_language_switch_comes_back_with_the_filters(client, make_user):
    # It came back to the bare path: report ranges and queue filters were lost.
    sign_in(client, make_user("coordinator", JIANGSU).username)
    page = client.get("/console/proposals?min_score=0.5").text
    link = re.search(r'class="lang" href="([^"]+)"', page).group(1)
    assert link == "/console/lang/en?next=/console/proposals%3Fmin_score%3D0.5"
    r = client.get(link, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/proposals?min_score=0.5"


def test_times_are_shown_in_beijing_time(client, make_user, db):
    from datetime import UTC, datetime

    user = make_user("coordinator", JIANGSU)
    token = sign_in(client, user.username)
    client.post("/console/runs", data={"csrftoken": token, "scope_code": JIANGSU}, follow_redirects=False)
    run = db.query(MatchingRun).one()
    run.created_at = datetime(2026, 1, 1, 20, 30, tzinfo=UTC)  # 04:30 the next morning in Beijing
    db.commit()
    page = client.get("/console/runs").text
    assert "2026-01-02 04:30" in page and "2026-01-01 20:30" not in page
    assert "北京时间" in page


def test_the_accounts_page_pages_through_every_account(client, make_user, monkeypatch):
    from app.console.routers import admin

    monkeypatch.setattr(admin, "PAGE_SIZE", 3)
    made = {make_user("coordinator", JIANGSU).username for _ in range(7)}
    sign_in(client, make_user("admin").username)
    seen: set[str] = set()
    url = "/console/admin/accounts"
    for _ in range(10):
        text = client.get(url).text
        seen |= set(re.findall(r'data-account="([^"]+)"', text))
        found = re.search(r'<a rel="next" href="([^"]+)"', text)
        if not found:
            break
        url = found.group(1).replace("&amp;", "&")
    assert made <= seen
    assert "第一页" in text


def test_the_runs_page_pages(client, make_user, db, monkeypatch):
    from app.console.routers import runs

    monkeypatch.setattr(runs, "PAGE_SIZE", 1)
    user = make_user("coordinator", JIANGSU)
    token = sign_in(client, user.username)
    for _ in range(2):
        client.post("/console/runs", data={"csrftoken": token, "scope_code": JIANGSU}, follow_redirects=False)
        db.query(MatchingRun).update({"status": "done"})
        db.commit()
    first = client.get("/console/runs").text
    found = re.search(r'<a rel="next" href="([^"]+)"', first)
    assert found, first[-800:]
    second = client.get(found.group(1)).text
    ids = lambda text: re.findall(r'href="/console/runs/(\d+)"', text)  # noqa: E731
    assert len(ids(first)) == len(ids(second)) == 1 and ids(first) != ids(second)


def test_the_import_report_names_the_files_columns_and_pages_its_rows(client, make_user, drain, monkeypatch):
    from app.console.routers import imports as console_imports

    monkeypatch.setattr(console_imports, "REPORT_ROWS", 2)
    office = make_user("township_office", ZHAXIA)
    token = sign_in(client, office.username)
    header = "外部编号,名称,类型,手机号码,行政区划代码,主营产品,可分享资源,销售平台"
    rows = [
        f"E{n},示范户{n},农户,{'bad' if n == 3 else f'1380000000{n}'},{ZHAXIA},盆景,技术,抖音"
        for n in (1, 2, 3)
    ]
    files = {"file": ("roster.csv", "\n".join([header, *rows]).encode(), "text/csv")}
    r = client.post(
        "/console/office/imports",
        files=files,
        data={"csrftoken": token, "dry_run": "true"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[:300]
    drain()
    first = client.get(r.headers["location"]).text
    assert re.findall(r'data-row="(\d+)"', first) == ["2", "3"]
    found = re.search(r'<a rel="next" href="([^"]+)"', first)
    assert found
    second = client.get(found.group(1)).text
    assert re.findall(r'data-row="(\d+)"', second) == ["4"]
    assert "<strong>手机号码</strong>" in second and "<strong>phone</strong>" not in second
    # A misspelt column (销售平台 for 销售渠道) is said on the page, not only in the API's unknown_columns.
    notice = re.search(r'id="unknown-columns">([^<]*)<', first)
    assert notice and notice.group(1).endswith("：销售平台"), first[:2000]


def test_a_preview_is_applied_once(client, db, make_user, drain):
    """A double click on 确认导入 (or the form sent again) finds the import the preview became."""
    from app.models import RosterImport

    office = make_user("township_office", ZHAXIA)
    token = sign_in(client, office.username)
    header = "外部编号,名称,类型,手机号码,行政区划代码,主营产品,可分享资源"
    body = f"{header}\nE1,示范户1,农户,13800000001,{ZHAXIA},盆景,技术".encode()
    r = client.post(
        "/console/office/imports",
        files={"file": ("roster.csv", body, "text/csv")},
        data={"csrftoken": token, "dry_run": "true"},
        follow_redirects=False,
    )
    preview_url = r.headers["location"]
    drain()
    apply_url = f"{preview_url}/apply"
    first = client.post(apply_url, data={"csrftoken": token}, follow_redirects=False)
    again = client.post(apply_url, data={"csrftoken": token}, follow_redirects=False)
    assert first.status_code == again.status_code == 303
    assert again.headers["location"] == first.headers["location"] != preview_url
    assert db.query(RosterImport).filter(RosterImport.dry_run.is_(False)).count() == 1
    # The preview now links to its import instead of offering the button again.
    page = client.get(preview_url).text
    assert 'id="apply-form"' not in page and f'href="{first.headers["location"]}"' in page
    assert "预览报告（已确认导入）" in page and "尚未写入" not in page
    listed = client.get("/console/office/imports").text
    assert re.search(r"新增 \d+ · 更新 \d+ · 未变 \d+ · 拒绝 \d+", listed) and "✗" not in listed
    # The list says so too: the preview is applied, the import it became is no preview.
    assert listed.count("预览 · 已确认导入") == 1 and "尚未写入" not in listed
    assert "预览 · 已确认导入" in client.get("/console").text
    # An applied import that failed can be applied anew: the file is queued once more.
    applied_id = int(first.headers["location"].rsplit("/", 1)[1])
    db.get(RosterImport, applied_id).status = "failed"
    db.commit()
    retry = client.post(apply_url, data={"csrftoken": token}, follow_redirects=False)
    assert retry.headers["location"] != first.headers["location"]
    assert db.query(RosterImport).filter(RosterImport.dry_run.is_(False)).count() == 2


def test_a_refused_form_names_its_fields_as_the_form_does(client, make_user):
    """Not pydantic's JSON paths and English: the form's own labels and the page's language."""
    coordinator = make_user("coordinator", JIANGSU)
    token = sign_in(client, coordinator.username)
    form = {"csrftoken": token, "k": "99", "max_distance_km": "-5", "separation": "county"}
    zh = client.post("/console/runs", data=form)
    assert zh.status_code == 422
    notice = re.search(r'role="alert">([^<]*)<', zh.text).group(1)
    assert notice == "最远距离（公里）：应大于 0；每位新农人候选数 k：应小于或等于 50", notice
    client.get("/console/lang/en")
    en = client.post("/console/runs", data=form)
    notice = re.search(r'role="alert">([^<]*)<', en.text).group(1)
    assert "Candidates per newcomer k: Input should be less than or equal to 50" in notice, notice


def test_a_run_shows_its_settings_and_counts_in_words(client, db, make_user):
    from app.runs.schemas import RunCreate

    coordinator = make_user("coordinator", JIANGSU)
    sign_in(client, coordinator.username)
    policy = RunCreate(
        scope_code=JIANGSU, pairing="mixed", chain_share=0.4, max_distance_km=300, exploration=0.004
    ).model_dump()
    counts = {"mentors": 12, "newcomers": 30, "proposals": 28, "superseded": 0, "dropped_stale": 1}
    run = MatchingRun(
        scope_code=JIANGSU, policy=policy, status="done", counts=counts, created_by=coordinator.id
    )
    db.add(run)
    db.commit()
    text = client.get(f"/console/runs/{run.id}").text
    shown = re.search(r'<dl class="kv" id="run-settings">(.*?)</dl>', text, re.S).group(1)
    pairs = dict(re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", shown))
    assert pairs["跨区要求"] == "不同县" and pairs["最远距离（公里）"] == "300"
    assert pairs["产品关系"] == "混合" and pairs["产业链结对占比"] == "40%"
    assert pairs["探索比例（标记为探索的推荐）"] == "0.4%"  # not rounded away to 0%
    assert pairs["评分模型"] == "规则权重" and pairs["同品同市"] == "降权"
    assert pairs["范围"] == f"江苏省 ({JIANGSU})"  # by its name, the code beside it
    # No stored key shows through (each has its words), and the pinned version only when there is one.
    assert not set(pairs) & set(policy) and "指定模型版本" not in pairs
    line = re.search(r'<p id="run-counts">(.*?)</p>', text).group(1)
    assert line == "导师 12 · 新农人 30 · 推荐 28 · 被替换的旧推荐 0 · 计算期间已变更而放弃 1"


def test_every_status_has_words_and_the_polls_send_them(client, db, make_user):
    from app.access.roles import ALL_ROLES
    from app.console.render import LABELS
    from app.models import RosterImport
    from app.models.imports import ImportStatus
    from app.models.jobs import JobStatus
    from app.models.matches import MatchStatus, RunStatus

    for enum in (ImportStatus, JobStatus, MatchStatus, RunStatus):
        assert {s.value for s in enum} <= set(LABELS["status"]), enum
    assert set(ALL_ROLES) <= set(LABELS["role"])
    office = make_user("township_office", ZHAXIA)
    sign_in(client, office.username)
    imp = RosterImport(
        township_code=ZHAXIA, created_by=office.id, filename="r.csv", size_bytes=1, sha256="0" * 64,
        status="validating", rows_total=10, rows_processed=4,
    )  # fmt: skip
    db.add(imp)
    db.commit()
    polled = client.get(f"/console/office/imports/{imp.id}/status.json").json()
    assert polled["status_label"] == "校验中" and polled["progress"] == 0.4
    assert "校验中" in client.get(f"/console/office/imports/{imp.id}").text


def test_a_refused_commitment_is_named_by_its_place_on_the_form(client, db, make_user, pair):
    user = make_user("coordinator", SHANDONG)
    sign_in(client, user.username)
    url = f"/console/proposals/{pair.match_id}"
    form = {
        "csrftoken": csrf_token(client, url),
        "version": "1",
        "resource_type": "logistics",
        "area": "after_sales_follow_up",
        "description": "每月一次物流对接",
        "cadence_days": "0",
    }
    r = client.post(f"{url}/approve", data=form)
    assert r.status_code == 422
    notice = re.search(r'role="alert">([^<]*)<', r.text).group(1)
    # The first commitment is 1 on the page (pydantic's path says commitments.0.cadence_days).
    assert notice.startswith("资源共享承诺 · 1 · 频率（天）：应大于或等于"), notice
    db.expire_all()
    assert db.get(Match, pair.match_id).status == "proposed"


class TestARefusedDecisionSaysWhyAndKeepsTheForm:
    def _form(self, client, url, **fields):
        return {
            "csrftoken": csrf_token(client, url),
            "version": "1",
            "resource_type": "logistics",
            "area": "after_sales_follow_up",
            "description": "每周一次直播带练",
            "cadence_days": "7",
            **fields,
        }

    def test_a_mentor_without_seats_is_named_and_the_typed_form_kept(self, client, db, make_user, pair):
        # It used to say "someone else decided this" (status still pending) and drop what was typed.
        user = make_user("coordinator", SHANDONG)
        sign_in(client, user.username)
        mentor = db.get(Mentor, pair.mentor_id)
        mentor.capacity_used = mentor.capacity
        db.commit()
        url = f"/console/proposals/{pair.match_id}"
        r = client.post(f"{url}/approve", data=self._form(client, url, note="先试三个月"))
        assert r.status_code == 409
        assert "带徒名额已满" in r.text and "已被他人处理" not in r.text
        assert 'value="先试三个月"' in r.text and 'value="每周一次直播带练"' in r.text
        assert 'value="7"' in r.text
        db.expire_all()
        assert db.get(Match, pair.match_id).status == "proposed"

    def test_a_rejection_refused_on_its_note_keeps_the_reason_chosen(self, client, make_user, pair):
        user = make_user("coordinator", SHANDONG)
        sign_in(client, user.username)
        url = f"/console/proposals/{pair.match_id}"
        form = {"csrftoken": csrf_token(client, url), "version": "1", "reason_code": "too_far"}
        r = client.post(f"{url}/reject", data={**form, "note": "远\x00"})
        assert r.status_code == 422
        assert '<option value="too_far" selected>' in r.text

    def test_a_decision_taken_first_elsewhere_still_says_so(self, client, db, make_user, pair):
        user = make_user("coordinator", SHANDONG)
        sign_in(client, user.username)
        url = f"/console/proposals/{pair.match_id}"
        form = {"csrftoken": csrf_token(client, url), "version": "1", "reason_code": "too_far"}
        assert client.post(f"{url}/reject", data=form).status_code == 200
        r = client.post(f"{url}/approve", data=self._form(client, url))
        assert r.status_code == 409 and "已被他人处理" in r.text


class TestARefusedFormComesBackAsTyped:
    def test_a_refused_new_account_keeps_every_field_but_the_password(self, client, make_user):
        sign_in(client, make_user("admin").username)
        make_user("coordinator", JIANGSU, username="taken-name")
        token = csrf_token(client, "/console/admin/accounts")
        form = {
            "csrftoken": token,
            "username": "taken-name",
            "password": "flowers-and-trees-2026",
            "role": "township_office",
            "display_name": "扎下镇办公室",
            "jurisdiction_code": ZHAXIA,
        }
        r = client.post("/console/admin/accounts", data=form)
        assert r.status_code == 409
        for shown in ('value="taken-name"', 'value="扎下镇办公室"', f'value="{ZHAXIA}"'):
            assert shown in r.text, shown
        assert '<option value="township_office" selected>' in r.text
        assert "flowers-and-trees-2026" not in r.text

    @pytest.mark.parametrize(
        ("fields", "says"),
        [
            ({"username": "张三县协调员"}, "用户名："),
            ({"username": "ab"}, "用户名："),
            ({"role": "mentor"}, "角色："),
            ({"display_name": ""}, "显示名："),
        ],
    )
    def test_a_new_account_the_rules_refuse_comes_back_as_typed(self, client, make_user, db, fields, says):
        # The form's own field rules ended on the bare 422 page, and everything typed was gone.
        sign_in(client, make_user("admin").username)
        form = {
            "csrftoken": csrf_token(client, "/console/admin/accounts"),
            "username": "coord-suqian",
            "password": "flowers-and-trees-2026",
            "role": "coordinator",
            "display_name": "宿迁市电商服务中心",
            "jurisdiction_code": "3213",
            **fields,
        }
        r = client.post("/console/admin/accounts", data=form)
        assert r.status_code == 422 and 'id="a-username"' in r.text, r.text[:500]
        assert says in r.text
        for name in ("username", "display_name"):
            if form[name]:
                assert f'value="{form[name]}"' in r.text, name
        assert 'value="3213"' in r.text and "flowers-and-trees-2026" not in r.text
        assert db.scalar(select(func.count()).select_from(Account).where(Account.role == "coordinator")) == 0

    def test_a_rejection_without_a_reason_keeps_the_note(self, client, make_user, pair):
        user = make_user("coordinator", SHANDONG)
        sign_in(client, user.username)
        url = f"/console/proposals/{pair.match_id}"
        form = {"csrftoken": csrf_token(client, url), "version": "1", "note": "两地物流不通"}
        r = client.post(f"{url}/reject", data=form)
        assert r.status_code == 422 and "两地物流不通" in r.text and 'action="' in r.text
        assert client.get(url).status_code == 200

    def test_the_accounts_list_names_each_jurisdiction(self, client, make_user):
        sign_in(client, make_user("admin").username)
        make_user("coordinator", JIANGSU, username="coord-js")
        row = re.search(
            r'<tr data-account="coord-js">(.*?)</tr>', client.get("/console/admin/accounts").text, re.S
        )
        assert f"<span>江苏省 <small>{JIANGSU}</small></span>" in row.group(1)

    def test_a_wrong_password_keeps_the_username(self, client, make_user):
        user = make_user("coordinator", JIANGSU)
        form = {"csrftoken": csrf_token(client), "username": user.username, "password": "nope-nope"}
        r = client.post("/console/login", data=form)
        assert r.status_code == 401 and f'value="{user.username}"' in r.text and "nope-nope" not in r.text

    def test_a_refused_upload_keeps_the_choice_made(self, client, make_user):
        token = sign_in(client, make_user("township_office", ZHAXIA).username)
        files = {"file": ("名单.csv", b"", "text/csv")}
        data = {"csrftoken": token, "on_error": "reject_file"}
        r = client.post("/console/office/imports", files=files, data=data)
        assert r.status_code == 422 and '<option value="reject_file" selected>' in r.text


def test_empty_lists_say_why_they_are_empty(client, make_user):
    sign_in(client, make_user("coordinator", JIANGSU).username)
    assert "队列已清空" in client.get("/console/proposals").text
    filtered = client.get("/console/proposals", params={"county": "371721"}).text
    assert "没有符合这些筛选条件" in filtered and "队列已清空" not in filtered
    assert "还没有匹配运行" in client.get("/console/runs").text


class TestAnErrorPageLeadsBack:
    """A refused filter or form says what was wrong, field by field, and links back to the page."""

    def test_a_region_outside_the_jurisdiction_keeps_the_report_form(self, client, make_user):
        sign_in(client, make_user("coordinator", JIANGSU).username)
        r = client.get("/console/reports/reach", params={"region": "53"})
        assert r.status_code == 404
        assert 'name="region"' in r.text and "不在您的管辖范围内" in r.text

    @pytest.mark.parametrize(
        ("query", "field"), [({"region": "abc"}, "地区"), ({"date_from": "2026-13-01"}, "")]
    )
    def test_a_refused_filter_names_the_field_and_links_to_the_page(self, client, make_user, query, field):
        sign_in(client, make_user("coordinator", JIANGSU).username)
        r = client.get("/console/reports/reach", params=query)
        assert r.status_code == 422
        notice = re.search(r'<p class="notice error" role="alert">(.*?)</p>', r.text, re.S).group(1)
        assert field in notice and "：" in notice and "出错了" not in notice
        assert '<a href="/console/reports/reach">' in r.text

    def test_a_refused_form_links_back_to_the_page_it_came_from(self, client, make_user, pair):
        user = make_user("coordinator", SHANDONG)
        sign_in(client, user.username)
        url = f"/console/proposals/{pair.match_id}"
        token = csrf_token(client, url)
        r = client.post(
            f"{url}/approve",
            data={"csrftoken": token, "version": "x"},
            headers={"Referer": f"http://testserver{url}"},
        )
        assert r.status_code == 422 and f'<a href="{url}">' in r.text
        elsewhere = client.post(
            f"{url}/approve",
            data={"csrftoken": token, "version": "x"},
            headers={"Referer": "http://evil.example/x"},
        )
        assert elsewhere.status_code == 422 and "evil.example" not in elsewhere.text


def test_a_refused_check_in_keeps_what_was_typed(client, db, make_user, make_profiles, propose_pair):
    from app.models import Commitment

    make_mentor, make_newcomer = make_profiles
    mentor, _ = make_mentor(with_account=False)
    newcomer, newcomer_user = make_newcomer()
    match = propose_pair(mentor, newcomer)
    coordinator = make_user("coordinator", SHANDONG)
    etag = client.get(f"/api/v1/proposals/{match.id}", headers=coordinator.headers).headers["etag"]
    approve = f"/api/v1/proposals/{match.id}/approve"
    assert client.post(approve, json={}, headers={**coordinator.headers, "If-Match": etag}).status_code == 200
    accept = f"/api/v1/matches/{match.id}/accept"
    assert client.post(accept, json={}, headers=newcomer_user.headers).status_code == 200
    assert (
        client.post(accept, json={"on_behalf_of": "mentor"}, headers=coordinator.headers).status_code == 200
    )
    commitment = db.scalars(select(Commitment).where(Commitment.match_id == match.id)).first()
    sign_in(client, coordinator.username)
    url = f"/console/matches/{match.id}"
    form = {
        "csrftoken": csrf_token(client, url),
        "commitment_id": str(commitment.id),
        "on_behalf_of": "mentor",
        "outcome": "partial",
        "note": "电话回访\x00",
    }
    r = client.post(f"{url}/check-ins", data=form)
    assert r.status_code == 422
    assert 'value="电话回访' in r.text and '<option value="partial" selected>' in r.text
    assert f'<option value="{commitment.id}" selected>' in r.text


def test_an_approved_match_says_how_each_party_accepts(client, make_user, pair):
    coordinator = make_user("coordinator", SHANDONG)
    token = sign_in(client, coordinator.username)
    etag = client.get(f"/api/v1/proposals/{pair.match_id}", headers=coordinator.headers).headers["etag"]
    r = client.post(
        f"/api/v1/proposals/{pair.match_id}/approve",
        json={},
        headers={**coordinator.headers, "If-Match": etag},
    )
    assert r.status_code == 200, r.text
    client.post(f"/api/v1/matches/{pair.match_id}/accept", json={}, headers=pair.mentor_user.headers)
    page = client.get(f"/console/matches/{pair.match_id}").text
    # Both have accounts: no button to answer for them, and the card says why, not an empty box.
    assert 'id="accept-' not in page and token
    sides = dict(re.findall(r'<li data-side="(\w+)">[^：]*：([^<]+)', page))
    assert sides == {"mentor": "已接受", "newcomer": "有账号，须本人在手机应用中接受"}, sides


def test_a_workbook_with_its_instructions_first_names_its_sheets_and_imports_by_sheet(
    client, make_user, drain
):
    import io

    import openpyxl

    office = make_user("township_office", ZHAXIA)
    token = sign_in(client, office.username)
    book = openpyxl.Workbook()
    book.active.title = "填表说明"
    book.active.append(["请按模板填写"])
    book.active.append(["手机号码填 11 位"])
    roster = book.create_sheet("名单")
    roster.append(["外部编号", "名称", "类型", "手机号码", "行政区划代码", "主营产品", "可分享资源"])
    roster.append(["E1", "示范户1", "农户", "13800000001", ZHAXIA, "盆景", "技术"])
    buffer = io.BytesIO()
    book.save(buffer)
    kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

    def upload(sheet: str) -> str:
        files = {"file": ("roster.xlsx", buffer.getvalue(), kind)}
        r = client.post(
            "/console/office/imports",
            files=files,
            data={"csrftoken": token, "sheet": sheet},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text[:500]
        drain()
        return client.get(r.headers["location"]).text

    first = upload("")
    assert "工作表“填表说明”中没有表头和数据。工作簿中还有：名单。" in first
    assert 'data-count="created">1<' in upload("名单")


def test_a_throttled_sign_in_says_how_long_to_wait(client, make_user):
    user = make_user("coordinator", JIANGSU)
    token = csrf_token(client)
    for _ in range(12):
        r = client.post(
            "/console/login", data={"csrftoken": token, "username": user.username, "password": "nope-nope"}
        )
        if r.status_code == 429:
            break
    assert r.status_code == 429, r.status_code
    seconds = r.headers["retry-after"]
    assert seconds.isdigit() and f"（请 {seconds} 秒后再试）" in r.text


def test_an_office_without_imports_is_told_so_and_an_admins_roster_is_every_townships(client, make_user):
    office = make_user("township_office", ZHAXIA)
    sign_in(client, office.username)
    assert 'id="no-imports"' in client.get("/console/office/imports").text
    assert "<h1>本镇名单</h1>" in client.get("/console/office/roster").text
    client.cookies.clear()
    sign_in(client, make_user("admin").username)
    assert "<h1>卖家名单（全部乡镇）</h1>" in client.get("/console/office/roster").text
