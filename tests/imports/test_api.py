"""Roster import endpoints end to end: upload (202), the job, status, reports, idempotency, limits."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.jobs.handlers import HANDLERS
from app.jobs.worker import Worker
from app.main import create_app
from app.models import Mentor, MentorProduct, RosterFile, RosterImport
from tests.imports.conftest import API_HEADER, DAJI, SHUYANG_OTHER, ZHAXIA, ZHAXIA_VILLAGE, api_row, csv_bytes


@pytest.fixture
def office(make_user):
    return make_user("township_office", ZHAXIA)


@pytest.fixture
def run_jobs(session_factory, job_settings):
    def _run() -> int:
        return Worker(session_factory, HANDLERS, settings=job_settings).run_until_idle()

    return _run


def upload(client, user, content: bytes, *, filename="roster.csv", headers=None, **form):
    data = {k: str(v).lower() if isinstance(v, bool) else v for k, v in form.items()}
    return client.post(
        "/api/v1/imports",
        files={"file": (filename, content, "text/csv")},
        data=data,
        headers={**user.headers, **(headers or {})},
    )


def imported(client, user, run_jobs, content: bytes, **form) -> dict:
    r = upload(client, user, content, **form)
    assert r.status_code == 202, r.text
    run_jobs()
    status = client.get(r.json()["url"], headers=user.headers)
    assert status.status_code == 200
    return status.json()


def roster(rows, header=API_HEADER, encoding="utf-8") -> bytes:
    return csv_bytes(rows, header=header, encoding=encoding)


def mentors_in(db, township=ZHAXIA) -> list[Mentor]:
    db.expire_all()
    return list(
        db.scalars(select(Mentor).where(Mentor.source_township == township).order_by(Mentor.external_id))
    )


class TestCreate:
    def test_anonymous_is_401(self, client):
        r = client.post("/api/v1/imports", files={"file": ("r.csv", b"x", "text/csv")})
        assert r.status_code == 401

    @pytest.mark.parametrize("role", ["coordinator", "mentor", "newcomer"])
    def test_wrong_role_is_403(self, client, make_user, role):
        user = make_user(role, "32" if role == "coordinator" else None)
        assert upload(client, user, roster([api_row(1)])).status_code == 403

    def test_success_202_then_done(self, client, office, run_jobs, db):
        r = upload(client, office, roster([api_row(1), api_row(2), api_row(3, region_code=ZHAXIA_VILLAGE)]))
        assert r.status_code == 202, r.text
        body = r.json()
        assert (
            body["status"] == "queued"
            and r.headers["location"] == body["url"] == f"/api/v1/imports/{body['id']}"
        )
        assert run_jobs() == 1
        status = client.get(body["url"], headers=office.headers).json()
        assert status["status"] == "done", status
        assert status["counts"] == {"created": 3, "updated": 0, "unchanged": 0, "rejected": 0}
        assert status["rows_total"] == status["rows_processed"] == 3
        assert status["started_at"] and status["finished_at"] and status["error"] is None
        rows = mentors_in(db)
        assert [m.external_id for m in rows] == ["E00001", "E00002", "E00003"]
        first = rows[0]
        assert first.account_id is None and first.region_code == ZHAXIA and first.county_code == "321322"
        assert first.resources_offered == [
            {"type": "technology", "description": ""},
            {"type": "logistics", "description": ""},
        ]
        assert first.resources_mask == 0b1010 and first.capacity == 2 and first.story == "第1户"
        assert first.import_hash and first.version == 1
        assert [p.category_code for p in first.products] == ["flowers.seedlings", "flowers.pots_miniascape"]
        assert rows[2].region_code == ZHAXIA  # the village is not in the table: truncated to its township

    def test_unknown_columns_reported(self, client, office, run_jobs):
        header = [*API_HEADER, "微信号"]
        status = imported(client, office, run_jobs, roster([[*api_row(1), "wx1"]], header=header))
        assert status["unknown_columns"] == ["微信号"] and status["counts"]["created"] == 1

    def test_admin_imports_for_a_chosen_township(self, client, make_user, run_jobs, db):
        admin = make_user("admin")
        status = imported(client, admin, run_jobs, roster([api_row(1, DAJI), api_row(2)]), township=DAJI)
        assert status["township_code"] == DAJI
        assert status["counts"]["created"] == 1 and status["counts"]["rejected"] == 1
        assert [m.external_id for m in mentors_in(db, DAJI)] == ["E00001"]

    def test_admin_without_township_uses_each_rows_township(self, client, make_user, run_jobs, db):
        admin = make_user("admin")
        status = imported(client, admin, run_jobs, roster([api_row(1, DAJI), api_row(2)]))
        assert status["township_code"] is None and status["counts"]["created"] == 2
        assert len(mentors_in(db, DAJI)) == 1 and len(mentors_in(db, ZHAXIA)) == 1

    def test_office_may_not_name_another_township(self, client, office):
        r = upload(client, office, roster([api_row(1)]), township=DAJI)
        assert r.status_code == 422 and r.json()["code"] == "region_outside_jurisdiction"

    def test_bad_form_values_are_422(self, client, office):
        assert upload(client, office, roster([api_row(1)]), on_error="ignore").status_code == 422
        assert upload(client, office, roster([api_row(1)]), dry_run="maybe").status_code == 422
        r = client.post("/api/v1/imports", data={"dry_run": "true"}, headers=office.headers)
        assert r.status_code == 422

    @pytest.mark.parametrize("field", ["dryrun", "on_eror", "role"])
    def test_an_unknown_form_field_is_422_and_nothing_is_imported(self, client, office, db, field):
        # A misspelt dry_run was ignored, and the upload meant as a preview was applied.
        r = upload(client, office, roster([api_row(1)]), **{field: "true"})
        assert r.status_code == 422 and r.json()["code"] == "unknown_form_field", r.text
        assert r.json()["unknown"] == [field] and "dry_run" in r.json()["accepted"]
        assert db.scalar(select(func.count()).select_from(RosterImport)) == 0

    def test_a_repeated_form_field_is_422(self, client, office, db):
        r = client.post(
            "/api/v1/imports",
            files={"file": ("roster.csv", roster([api_row(1)]), "text/csv")},
            data={"dry_run": ["true", "false"]},
            headers=office.headers,
        )
        assert r.status_code == 422 and r.json()["code"] == "repeated_form_field", r.text
        assert db.scalar(select(func.count()).select_from(RosterImport)) == 0


class TestVisibility:
    def test_other_township_import_is_404_everywhere(self, client, office, make_user, run_jobs):
        body = upload(client, office, roster([api_row(1, township="x")])).json()
        run_jobs()
        other = make_user("township_office", DAJI)
        for suffix in ("", "/errors", "/errors.csv", "/rows"):
            assert client.get(body["url"] + suffix, headers=other.headers).status_code == 404
            assert client.get(body["url"] + suffix, headers=office.headers).status_code == 200
        assert client.get("/api/v1/imports/999999", headers=office.headers).status_code == 404

    def test_list_shows_only_own_township_paginated(self, client, office, make_user):
        other = make_user("township_office", DAJI)
        mine = [upload(client, office, roster([api_row(n)])).json()["id"] for n in range(3)]
        upload(client, other, roster([api_row(9, DAJI)]))
        first = client.get("/api/v1/imports?limit=2", headers=office.headers).json()
        assert [i["id"] for i in first["items"]] == [mine[2], mine[1]] and first["next_cursor"]
        second = client.get(f"/api/v1/imports?limit=2&cursor={first['next_cursor']}", headers=office.headers)
        assert [i["id"] for i in second.json()["items"]] == [mine[0]] and second.json()["next_cursor"] is None
        admin = make_user("admin")
        assert len(client.get("/api/v1/imports?limit=100", headers=admin.headers).json()["items"]) >= 4
        assert client.get("/api/v1/imports?cursor=bad!", headers=office.headers).status_code == 422


class TestOutcomes:
    def test_dry_run_writes_no_mentors(self, client, office, run_jobs, db):
        imported(client, office, run_jobs, roster([api_row(1)]))
        status = imported(
            client, office, run_jobs, roster([api_row(1, name="新名字"), api_row(2)]), dry_run=True
        )
        assert status["dry_run"] and status["status"] == "done"
        assert status["counts"] == {"created": 1, "updated": 1, "unchanged": 0, "rejected": 0}
        assert [m.name for m in mentors_in(db)] == ["示范户1"]
        rows = client.get(status["rows_url"], headers=office.headers).json()["items"]
        assert [(r["outcome"], r["changed_fields"]) for r in rows] == [("updated", ["name"]), ("created", [])]

    def test_reupload_is_all_unchanged(self, client, office, run_jobs, db):
        content = roster([api_row(n) for n in range(1, 6)])
        imported(client, office, run_jobs, content)
        before = [(m.id, m.version, m.updated_at) for m in mentors_in(db)]
        status = imported(client, office, run_jobs, content)
        assert status["counts"] == {"created": 0, "updated": 0, "unchanged": 5, "rejected": 0}
        assert [(m.id, m.version, m.updated_at) for m in mentors_in(db)] == before
        # The same rows in another order and encoding are the same rows.
        shuffled = roster([api_row(n) for n in (5, 3, 1, 2, 4)], encoding="gbk")
        assert imported(client, office, run_jobs, shuffled)["counts"]["unchanged"] == 5

    def test_changed_row_is_updated_with_its_fields(self, client, office, run_jobs, db):
        imported(client, office, run_jobs, roster([api_row(1), api_row(2)]))
        changed = roster([api_row(1, capacity="5", products="茶叶"), api_row(2)])
        status = imported(client, office, run_jobs, changed)
        assert status["counts"] == {"created": 0, "updated": 1, "unchanged": 1, "rejected": 0}
        updated = client.get(status["rows_url"] + "?outcome=updated", headers=office.headers).json()["items"]
        assert [(r["row_number"], r["changed_fields"]) for r in updated] == [(2, ["capacity", "products"])]
        mentor = mentors_in(db)[0]
        assert mentor.capacity == 5 and mentor.version == 2
        assert [p.category_code for p in mentor.products] == ["tea.growing"]
        assert (
            db.scalar(
                select(func.count()).select_from(MentorProduct).where(MentorProduct.mentor_id == mentor.id)
            )
            == 1
        )

    def test_keys_credit_code_and_phone(self, client, office, run_jobs, db):
        header = [*API_HEADER, "统一社会信用代码"]
        first = [[*api_row(1, external_id=""), "91350100M000100Y43"], [*api_row(2, external_id=""), ""]]
        assert imported(client, office, run_jobs, roster(first, header=header))["counts"]["created"] == 2
        again = [
            [*api_row(1, external_id="", name="改名合作社"), "91350100M000100Y43"],
            [*api_row(2, external_id="", notes="新备注"), ""],
        ]
        status = imported(client, office, run_jobs, roster(again, header=header))
        assert status["counts"] == {"created": 0, "updated": 2, "unchanged": 0, "rejected": 0}
        assert {m.name for m in mentors_in(db)} == {"示范户2", "改名合作社"}

    def test_rows_outside_township_rejected_and_never_written(self, client, office, run_jobs, db):
        status = imported(
            client, office, run_jobs, roster([api_row(1), api_row(2, DAJI), api_row(3, SHUYANG_OTHER)])
        )
        assert status["counts"]["created"] == 1 and status["counts"]["rejected"] == 2
        db.expire_all()
        assert (
            db.scalar(
                select(func.count()).select_from(Mentor).where(Mentor.region_code.in_([DAJI, SHUYANG_OTHER]))
            )
            == 0
        )
        issues = client.get(status["errors_url"], headers=office.headers).json()["items"]
        assert {i["code"] for i in issues} == {"outside_township"}
        # The office reads places, not codes: each township by its full name, its code beside it.
        assert sorted(i["message_zh"] for i in issues) == [
            "该行属于山东省菏泽市曹县大集镇（371721121），不在本乡镇（江苏省宿迁市沭阳县扎下镇）管辖范围内，已拒绝。",
            "该行属于江苏省宿迁市沭阳县沭城街道（321322001），不在本乡镇（江苏省宿迁市沭阳县扎下镇）管辖范围内，已拒绝。",
        ]
        assert (
            "in 山东省菏泽市曹县大集镇 (371721121), outside this office's township (江苏省宿迁市沭阳县扎下镇)"
            in (" ".join(i["message_en"] for i in issues))
        )

    def test_reject_file_writes_nothing_when_a_row_is_bad(self, client, office, run_jobs, db):
        content = roster([api_row(1), api_row(2, phone="12345"), api_row(3)])
        status = imported(client, office, run_jobs, content, on_error="reject_file")
        assert status["status"] == "failed" and status["error"]["code"] == "rows_rejected"
        assert status["counts"] == {"created": 0, "updated": 0, "unchanged": 0, "rejected": 1}
        assert status["error"]["message_en"].startswith("1 row cannot be imported")
        assert mentors_in(db) == []
        issues = client.get(status["errors_url"], headers=office.headers).json()["items"]
        assert [(i["row_number"], i["code"]) for i in issues] == [(3, "phone_invalid")]
        good = imported(client, office, run_jobs, roster([api_row(1), api_row(3)]), on_error="reject_file")
        assert good["status"] == "done" and good["counts"]["created"] == 2

    def test_profile_with_account_is_not_overwritten(self, client, office, run_jobs, db, make_user):
        owner = make_user("mentor")
        mentor = Mentor(
            account_id=owner.id, name="自己维护", kind="household", region_code=ZHAXIA, county_code="321322",
            phone="13912345678", credit_code="91350100M000100Y43",
        )  # fmt: skip
        db.add(mentor)
        db.commit()
        header = [*API_HEADER, "统一社会信用代码"]
        status = imported(
            client, office, run_jobs, roster([[*api_row(1), "91350100M000100Y43"]], header=header)
        )
        assert status["counts"]["rejected"] == 1
        issues = client.get(status["errors_url"], headers=office.headers).json()["items"]
        assert issues[0]["code"] == "profile_has_account"
        db.refresh(mentor)
        assert mentor.name == "自己维护"

    def test_another_townships_sellers_are_not_told_by_phone_or_credit_code(
        self, client, office, run_jobs, db, make_user
    ):
        """A dry run must not be an oracle for whose phone or credit code is on which roster."""
        owner = make_user("mentor")
        there = {"kind": "household", "region_code": DAJI, "county_code": DAJI[:6]}
        elsewhere = [
            Mentor(name="邻乡户", phone="13900000001", **there),
            Mentor(
                account_id=owner.id,
                name="邻乡自营",
                phone="13900000002",
                credit_code="91350100M000100Y43",
                **there,
            ),
            Mentor(name="邻乡企业", phone="13900000003", credit_code="91350100M000200Y4T", **there),
        ]
        db.add_all(elsewhere)
        db.commit()
        header = [*API_HEADER, "统一社会信用代码"]
        rows = [
            [*api_row(1, external_id="", phone="13900000001"), ""],
            [*api_row(2, external_id="", phone="13800000002"), "91350100M000100Y43"],
            [*api_row(3, external_id="", phone="13800000003"), "91350100M000200Y4T"],
        ]
        status = imported(client, office, run_jobs, roster(rows, header=header), dry_run="true")
        issues = client.get(status["errors_url"], headers=office.headers).json()["items"]
        # The phone is another family's entry here: a new seller. A code held elsewhere reads as taken,
        # whether its seller keeps an account or not.
        assert [(i["row_number"], i["code"]) for i in issues] == [
            (3, "credit_code_taken"),
            (4, "credit_code_taken"),
        ]
        assert status["counts"] == {"created": 1, "updated": 0, "unchanged": 0, "rejected": 2}
        for mentor in elsewhere:
            db.refresh(mentor)
            assert mentor.region_code == DAJI and mentor.name.startswith("邻乡")

    def test_a_phone_keys_a_roster_entry_of_the_own_township(self, client, office, run_jobs, db):
        first = imported(client, office, run_jobs, roster([api_row(1, external_id="", name="甲")]))
        again = imported(client, office, run_jobs, roster([api_row(1, external_id="", name="乙")]))
        assert first["counts"]["created"] == 1 and again["counts"]["updated"] == 1
        assert [m.name for m in mentors_in(db)] == ["乙"]


class TestReports:
    def test_errors_json_paginated(self, client, office, run_jobs):
        rows = [api_row(n, phone="bad") for n in range(1, 5)] + [api_row(5)]
        status = imported(client, office, run_jobs, roster(rows))
        page = client.get(status["errors_url"] + "?limit=3&severity=error", headers=office.headers).json()
        assert len(page["items"]) == 3 and page["next_cursor"]
        item = page["items"][0]
        assert item == {
            "row_number": 2, "column": "phone", "original_value": "bad", "code": "phone_invalid",
            "severity": "error", "message_zh": item["message_zh"], "message_en": item["message_en"],
        }  # fmt: skip
        assert "手机号" in item["message_zh"] and "Phone" in item["message_en"]
        rest = client.get(
            f"{status['errors_url']}?limit=3&severity=error&cursor={page['next_cursor']}",
            headers=office.headers,
        )
        assert [i["row_number"] for i in rest.json()["items"]] == [5] and rest.json()["next_cursor"] is None

    def test_errors_csv_for_excel(self, client, office, run_jobs):
        rows = [
            api_row(1, name='=HYPERLINK("http://x")', phone="+1 bad"),
            api_row(2),
            api_row(3, kind="@SUM(A1)"),
        ]
        status = imported(client, office, run_jobs, roster(rows))
        r = client.get(status["errors_csv_url"], headers=office.headers)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert "attachment" in r.headers["content-disposition"]
        assert r.content.startswith(b"\xef\xbb\xbf")
        table = list(csv.reader(io.StringIO(r.content[3:].decode("utf-8"))))
        assert table[0][0] == "行号" and table[0][-1] == "错误原因" and "名称" in table[0]
        assert [line[0] for line in table[1:]] == ["2", "4"]
        name = table[1][table[0].index("名称")]
        assert name == '\'=HYPERLINK("http://x")'
        assert table[1][table[0].index("手机号")] == "'+1 bad"
        assert "手机号" in table[1][-1]
        assert table[2][table[0].index("类型")] == "'@SUM(A1)"
        english = client.get(status["errors_csv_url"], headers={**office.headers, "Accept-Language": "en"})
        assert english.content[3:].decode().splitlines()[0].endswith(",reason")

    def test_errors_csv_fixed_and_uploaded_again_imports_as_written(self, client, office, run_jobs, db):
        # The export's apostrophe before "+86 ..." and "-R1" came back as data: phone_invalid, a new key.
        bad = api_row(1, external_id="-R1", phone="+86 139-1234-5678", products="不存在的产品")
        status = imported(client, office, run_jobs, roster([bad]))
        assert status["counts"]["rejected"] == 1
        exported = client.get(status["errors_csv_url"], headers=office.headers).content
        table = list(csv.reader(io.StringIO(exported[3:].decode("utf-8"))))
        header, row = table[0], table[1]
        assert row[header.index("手机号")] == "'+86 139-1234-5678" and row[header.index("外部编号")] == "'-R1"
        row[header.index("主营产品")] = "花木"
        fixed = io.StringIO()
        csv.writer(fixed).writerows([header, row])
        again = imported(client, office, run_jobs, fixed.getvalue().encode("utf-8-sig"))
        assert again["counts"]["created"] == 1, again
        mentor = db.scalar(select(Mentor).where(Mentor.external_id == "-R1"))
        assert mentor is not None and mentor.phone == "13912345678"

    def test_errors_csv_keeps_the_offices_own_header_text(self, client, office, run_jobs):
        header = [
            "外部编号",
            "名称 ",
            "类型",
            "手机号码",
            "行政区划代码",
            "主营产品",
            "可分享资源",
            "年销售额（万元）",
        ]
        rows = [
            ["E1", "甲", "农户", "bad", ZHAXIA, "盆景", "技术", "很多"],
            ["E2", "乙", "农户", "13800000002", ZHAXIA, "盆景", "技术", "50"],
        ]
        status = imported(client, office, run_jobs, roster(rows, header=header))
        assert status["counts"]["rejected"] == 1
        for language in ("zh-CN", "en"):
            r = client.get(status["errors_csv_url"], headers={**office.headers, "Accept-Language": language})
            table = list(csv.reader(io.StringIO(r.content[3:].decode("utf-8"))))
            assert table[0][1:-1] == [h.strip() for h in header]
            assert table[1][table[0].index("年销售额（万元）")] == "很多"
        zh = client.get(status["errors_csv_url"], headers=office.headers).content[3:].decode()
        assert "手机号码:" in zh and "年销售额（万元）:" in zh

    def test_errors_csv_does_not_read_the_upload_again(self, client, office, run_jobs, db):
        rows = [["E1", "甲", "农户", "bad", ZHAXIA, "盆景", "技术", "很多"]]
        header = [*API_HEADER[:3], "手机号码", *API_HEADER[4:7], "年销售额（万元）"]
        status = imported(client, office, run_jobs, roster(rows, header=header))
        imp = db.get(RosterImport, status["id"])
        assert imp.column_labels[3] == ["phone", "手机号码"]
        # The stored upload made unreadable: the report's header comes from what the import kept.
        db.get(RosterFile, status["id"]).data = b"\x00not a roster"
        db.commit()
        r = client.get(status["errors_csv_url"], headers=office.headers)
        table = list(csv.reader(io.StringIO(r.content[3:].decode("utf-8"))))
        assert table[0][1:-1] == header and table[1][table[0].index("手机号码")] == "bad"


class TestIdempotencyAndLimits:
    def test_idempotency_key_replays_and_rejects_other_body(self, client, office, db):
        key = {"Idempotency-Key": "roster-upload-0001"}
        first = upload(client, office, roster([api_row(1)]), headers=key)
        again = upload(client, office, roster([api_row(1)]), headers=key)
        assert first.status_code == again.status_code == 202
        assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
        assert again.headers["location"] == first.headers["location"]
        db.expire_all()
        assert db.scalar(select(func.count()).select_from(RosterImport)) == 1
        other = upload(client, office, roster([api_row(2)]), headers=key)
        assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
        dry = upload(client, office, roster([api_row(1)]), headers=key, dry_run=True)
        assert dry.status_code == 422

    def test_a_replay_after_the_import_ran_shows_its_current_status(self, client, office, run_jobs):
        key = {"Idempotency-Key": "roster-upload-0002"}
        first = upload(client, office, roster([api_row(1)]), headers=key)
        assert first.json()["status"] == "queued"
        run_jobs()
        again = upload(client, office, roster([api_row(1)]), headers=key)
        assert again.status_code == 202 and again.headers["idempotent-replayed"] == "true"
        assert again.json() == {**first.json(), "status": "done"}
        assert again.headers["location"] == first.json()["url"]
        assert client.get(again.json()["url"], headers=office.headers).json()["status"] == "done"

    def test_too_large_file_is_413(self, settings, engine, session_factory, office):
        small = settings.model_copy(update={"import_max_bytes": 2_000})
        app = create_app(small, engine=engine)
        app.state.sessionmaker = session_factory
        with TestClient(app, raise_server_exceptions=False) as c:
            big = roster([api_row(n) for n in range(1_500)])  # over the 64 KB multipart allowance
            r = upload(c, office, big)
            assert r.status_code == 413 and r.json()["code"] == "payload_too_large"
            assert r.headers["content-type"].startswith("application/problem+json")
            # Just over the file limit, but under the multipart allowance of the middleware: the route checks.
            r = upload(c, office, b"x" * 2_100)
            assert r.status_code == 413 and r.json()["code"] == "file_too_large"
            assert upload(c, office, roster([api_row(1)])).status_code == 202

    def test_too_many_rows_fails_the_import(self, client, office, session_factory, settings, db):
        limited = settings.model_copy(update={"import_max_rows": 4, "import_chunk_rows": 2})
        worker = Worker(session_factory, HANDLERS, settings=limited)
        status = imported(client, office, worker.run_until_idle, roster([api_row(n) for n in range(1, 6)]))
        assert status["status"] == "failed" and status["error"]["code"] == "too_many_rows"
        assert "4" in status["error"]["message_en"] and mentors_in(db) == []


def test_a_seller_an_admin_import_moves_to_another_county_leaves_the_queue(client, make_user, run_jobs, db):
    """An admin's import matches a seller by credit code anywhere; moved to another county, the seller's
    pending proposal made for the old one is withdrawn (audited), as a profile edit's is."""
    from app.models import Match, MatchTransition, Newcomer
    from tests.conftest import CAOXIAN

    admin = make_user("admin")
    header = [*API_HEADER, "统一社会信用代码"]
    code = "91350100M000100Y43"
    imported(client, admin, run_jobs, roster([[*api_row(1, external_id=""), code]], header=header))
    (seller,) = mentors_in(db, ZHAXIA)
    newcomer = Newcomer(name="新农人", region_code=CAOXIAN, county_code=CAOXIAN)
    db.add(newcomer)
    db.flush()
    match = Match(
        newcomer_id=newcomer.id, mentor_id=seller.id, newcomer_county_code=CAOXIAN,
        mentor_county_code=seller.county_code, score=0.5,
    )  # fmt: skip
    db.add(match)
    db.commit()
    # A move inside the county (another village of Zhaxia) keeps the proposal.
    imported(
        client, admin, run_jobs, roster([[*api_row(1, ZHAXIA_VILLAGE, external_id=""), code]], header=header)
    )
    db.expire_all()
    assert db.get(Match, match.id).status == "proposed"
    moved = imported(
        client, admin, run_jobs, roster([[*api_row(1, DAJI, external_id=""), code]], header=header)
    )
    assert moved["counts"]["updated"] == 1, moved
    db.expire_all()
    assert db.get(Mentor, seller.id).county_code == CAOXIAN
    assert db.get(Match, match.id).status == "superseded"
    reason = db.scalar(select(MatchTransition.reason).where(MatchTransition.match_id == match.id))
    assert reason == "the party moved to another county (roster import)"
