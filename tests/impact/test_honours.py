"""Honours: the rules, evaluation in a jurisdiction, confirmation, the profile, certificates, verification."""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta

import pytest

from app.db import china_today
from app.honours import rules
from app.honours.service import new_verification_code, normalise_code
from app.models import Honour, Mentor
from tests.conftest import CAOXIAN, SHANDONG, YUNNAN, mentor_payload

PERIOD = {"period_start": "2026-01-01", "period_end": "2026-06-30"}


@pytest.fixture
def shandong(make_user):
    return make_user("coordinator", SHANDONG)


def evaluate(client, user, **extra):
    return client.post("/api/v1/honours/evaluate", json={**PERIOD, **extra}, headers=user.headers)


class TestRules:
    def test_thresholds_and_support(self):
        ratings = rules.BY_CODE["ratings"]
        assert ratings.qualifies({"mean_rating": 4.5, "ratings": 3})
        assert not ratings.qualifies({"mean_rating": 4.9, "ratings": 2})
        assert not ratings.qualifies({"mean_rating": 4.4, "ratings": 30})
        assert not rules.BY_CODE["fulfilment"].qualifies({"fulfilment_rate": None, "periods": 0})
        assert rules.BY_CODE["reach"].qualifies({"newcomers_reached": 5})
        assert rules.RULES_VERSION and len(rules.AWARDED_TITLES) == len(rules.RULES)

    def test_listed_with_version(self, client, shandong):
        body = client.get("/api/v1/honours/rules", headers=shandong.headers).json()
        assert [r["code"] for r in body] == ["reach", "fulfilment", "outcomes", "ratings"]
        assert {r["rules_version"] for r in body} == {rules.RULES_VERSION}


class TestEvaluate:
    def test_proposes_what_was_earned(self, client, star, shandong):
        mentor, _ = star
        r = evaluate(client, shandong)
        assert r.status_code == 201, r.text
        got = {h["rule_code"]: h for h in r.json()}
        # 5 reached; days 10, 45, 90 are within 90; 12 done periods; ratings 5, 5, 4 (mean 4.67).
        assert set(got) == {"reach", "outcomes", "fulfilment", "ratings"}
        assert {h["mentor_id"] for h in got.values()} == {mentor.id}
        assert got["outcomes"]["evidence"]["first_sale_90d"] == 3
        assert got["ratings"]["evidence"]["mean_rating"] == pytest.approx(14 / 3)
        assert all(h["status"] == "proposed" and h["verification_code"] is None for h in got.values())
        assert got["reach"]["jurisdiction_code"] == SHANDONG
        assert evaluate(client, shandong).json() == []  # never proposed twice

    def test_an_overlapping_period_is_not_judged_again(self, client, star, shandong):
        assert len(evaluate(client, shandong).json()) == 4
        for period in (
            {"period_start": "2026-01-02", "period_end": "2026-06-30"},  # shifted start
            {"period_start": "2026-01-01", "period_end": "2026-06-29"},  # shifted end (was re-awarded)
            {"period_start": "2026-02-01", "period_end": "2026-02-28"},  # inside the awarded half-year
            {"period_start": "2025-12-01", "period_end": "2026-07-31"},  # around it
        ):
            r = evaluate(client, shandong, **period)
            assert r.status_code == 201 and r.json() == [], period
        # Periods that only touch it are new work: the next half-year is judged (nothing earned there).
        assert evaluate(client, shandong, period_start="2026-07-01", period_end="2026-09-30").json() == []

    def test_a_revoked_honour_is_not_proposed_again(self, client, db, star, shandong):
        reach = next(h for h in evaluate(client, shandong).json() if h["rule_code"] == "reach")
        revoked = client.post(f"/api/v1/honours/{reach['id']}/revoke", headers=shandong.headers)
        assert revoked.status_code == 200
        assert evaluate(client, shandong, period_start="2026-01-01", period_end="2026-06-29").json() == []

    def test_each_jurisdiction_judges_its_own(self, client, db, star, shandong, make_user):
        """Caoxian (371721, in Heze 3717, Shandong 37): the county's honour does not block the province's."""
        county = make_user("coordinator", CAOXIAN)
        by_county = evaluate(client, county).json()
        assert {h["jurisdiction_code"] for h in by_county} == {CAOXIAN} and len(by_county) == 4
        by_province = evaluate(client, shandong).json()
        assert {h["jurisdiction_code"] for h in by_province} == {SHANDONG} and len(by_province) == 4
        assert evaluate(client, county).json() == [] and evaluate(client, shandong).json() == []
        held = db.query(Honour).filter(Honour.mentor_id == star[0].id).count()
        assert held == 8

    def test_scoped_to_the_jurisdiction(self, client, star, make_user):
        yunnan = make_user("coordinator", YUNNAN)
        assert evaluate(client, yunnan).json() == []
        assert evaluate(client, yunnan, region=SHANDONG).status_code == 404
        admin = make_user("admin")
        assert evaluate(client, admin).json()["code"] == "region_required"
        assert evaluate(client, admin, region=SHANDONG).status_code == 201
        assert client.get("/api/v1/honours", headers=yunnan.headers).json()["items"] == []

    @pytest.mark.parametrize(
        ("period", "code"),
        [
            ({"period_start": "2026-07-01", "period_end": "2026-06-30"}, "invalid_date_range"),
            ({"period_start": "0001-01-01", "period_end": "9999-12-31"}, "invalid_date_range"),
            ({"period_start": "2020-01-01", "period_end": "2026-06-30"}, "invalid_date_range"),  # > 5 years
        ],
    )
    def test_bad_periods(self, client, star, shandong, period, code):
        r = evaluate(client, shandong, **period)
        assert r.status_code == 422 and r.json()["code"] == code

    def test_a_period_that_has_not_ended_is_refused(self, client, star, shandong):
        # An honour is for what was done: the period's last day must be over, by the Beijing date.
        today = china_today()
        start = str(today - timedelta(days=30))
        for end in (today, today + timedelta(days=1)):
            r = evaluate(client, shandong, period_start=start, period_end=str(end))
            assert r.status_code == 422 and r.json()["code"] == "period_not_over", (end, r.text)
        r = evaluate(client, shandong, period_start=start, period_end=str(today - timedelta(days=1)))
        assert r.status_code == 201, r.text


class TestConfirmAndVerify:
    @pytest.fixture
    def confirmed(self, client, star, shandong):
        honours = {h["rule_code"]: h for h in evaluate(client, shandong).json()}
        r = client.post(f"/api/v1/honours/{honours['outcomes']['id']}/confirm", headers=shandong.headers)
        assert r.status_code == 200, r.text
        return r.json()

    def test_confirmation_gives_a_code_and_feeds_the_profile(self, client, db, star, shandong, confirmed):
        mentor, user = star
        assert confirmed["status"] == "confirmed" and len(confirmed["verification_code"]) == 19
        db.expire_all()
        assert db.get(Mentor, mentor.id).honours == ["电商示范户", "致富领头雁"]
        again = client.post(f"/api/v1/honours/{confirmed['id']}/confirm", headers=shandong.headers)
        assert again.status_code == 409
        mine = client.get("/api/v1/me/honours", headers=user.headers).json()
        assert [h["id"] for h in mine] == [confirmed["id"]]

    def test_an_awarded_title_is_not_written_by_hand_and_an_edit_keeps_it(
        self, client, db, make_user, star, confirmed
    ):
        mentor, user = star
        url = f"/api/v1/mentors/{mentor.id}"
        etag = client.get(url, headers=user.headers).headers["etag"]
        # Any spelling a reader takes for an awarded title: traditional script, spaced, full-width,
        # inside a longer title, the English name.
        for titles in (
            ["帶徒標兵"],
            ["带 徒 标 兵"],
            ["县级带徒標兵"],
            ["帯徒標兵"],
            ["致富领头鴈"],
            ["L\u0435ad goose"],
            ["ＭＥＮＴＯＲ　ｏｆ　many"],
        ):
            r = client.patch(url, json={"honours": titles}, headers={**user.headers, "If-Match": etag})
            assert r.status_code == 422 and r.json()["code"] == "validation_failed", r.text
        # The exact title is the service's to give: one the profile does not hold is refused by name.
        # (Bodies drop spaces at the ends and hidden marks, so these two are exact too.)
        for titles, claimed in (
            (["带徒标兵"], ["带徒标兵"]),
            (["电商示范户", " 守信导师 "], ["守信导师"]),
            (["好评\u200b导师"], ["好评导师"]),
        ):
            r = client.patch(url, json={"honours": titles}, headers={**user.headers, "If-Match": etag})
            assert r.status_code == 422 and r.json()["code"] == "honour_not_held", r.text
            assert r.json()["titles"] == claimed
        r = client.post(
            "/api/v1/mentors",
            json={**mentor_payload(), "honours": ["好评导师"]},
            headers=make_user("mentor").headers,
        )
        assert r.status_code == 422 and r.json()["code"] == "honour_not_held", r.text
        db.expire_all()
        assert db.get(Mentor, mentor.id).honours == ["电商示范户", "致富领头雁"]
        # A client may send back the list it read, the confirmed title included.
        r = client.patch(
            url,
            json={"honours": ["电商示范户", "致富领头雁", "县级示范户"]},
            headers={**user.headers, "If-Match": etag},
        )
        assert r.status_code == 200 and r.json()["honours"] == ["电商示范户", "致富领头雁", "县级示范户"]
        etag = r.headers["etag"]
        # The seller rewrites their own titles; the confirmed one stays until a coordinator revokes it.
        r = client.patch(url, json={"honours": ["县级示范户"]}, headers={**user.headers, "If-Match": etag})
        assert r.status_code == 200 and r.json()["honours"] == ["县级示范户", "致富领头雁"], r.text
        db.expire_all()
        assert db.get(Mentor, mentor.id).honours == ["县级示范户", "致富领头雁"]

    def test_only_the_jurisdiction_confirms(self, client, make_user, star, shandong):
        honour = evaluate(client, shandong).json()[0]
        for user in (make_user("coordinator", YUNNAN), make_user("coordinator", "371721")):
            # A county coordinator inside Shandong does not cover a province-wide honour either.
            assert (
                client.post(f"/api/v1/honours/{honour['id']}/confirm", headers=user.headers).status_code
                == 404
            )

    def test_public_verification_shows_only_name_honour_date(self, client, star, confirmed):
        code = confirmed["verification_code"]
        r = client.get(f"/api/v1/verify/{code.lower()}")
        assert r.status_code == 200
        assert r.json() == {
            "name": "沭阳花木合作社",
            "honour_zh": "致富领头雁",
            "honour_en": "Lead goose",
            "confirmed_on": confirmed["confirmed_on"],
        }
        page = client.get(f"/verify/{code}")
        assert page.status_code == 200 and "沭阳花木合作社" in page.text and "致富领头雁" in page.text

    def test_a_guessed_code_shows_nothing(self, client, star, confirmed):
        guess = new_verification_code()
        assert client.get(f"/api/v1/verify/{guess}").status_code == 404
        page = client.get(f"/verify/{guess}")
        assert page.status_code == 404 and "沭阳" not in page.text
        # A person scanned the certificate: a page saying so, with the form to type the code again.
        assert page.headers["content-type"].startswith("text/html")
        assert "该验证码无效" in page.text and f'value="{guess}"' in page.text

    def test_a_code_typed_as_people_type_it(self, client, star, confirmed):
        code = confirmed["verification_code"]
        bare = code.replace("-", "")
        fullwidth = "".join(chr(ord(c) + 0xFEE0) for c in bare.lower())  # a Chinese keyboard's letters
        for typed in (bare.lower(), code.replace("-", "–"), " ".join(code.split("-")), fullwidth):
            page = client.get(f"/verify/{typed}")
            assert page.status_code == 200 and "沭阳花木合作社" in page.text, typed
        assert client.get(f"/api/v1/verify/{bare.lower()}").json()["name"] == "沭阳花木合作社"

    def test_the_form_sends_the_code_to_its_page(self, client, star, confirmed):
        blank = client.get("/verify")
        assert blank.status_code == 200 and '<form method="get" action="/verify">' in blank.text
        typed = confirmed["verification_code"].replace("-", " ").lower()
        sent = client.get("/verify", params={"code": typed}, follow_redirects=False)
        assert sent.status_code == 303
        assert sent.headers["location"] == f"/verify/{confirmed['verification_code']}"
        assert client.get("/verify", params={"code": "<b>"}, follow_redirects=True).status_code == 404
        slashed = confirmed["verification_code"].replace("-", "/")
        found = client.get("/verify", params={"code": slashed}, follow_redirects=True)
        assert found.status_code == 200 and "沭阳花木合作社" in found.text
        # Only separators is not a code: the not-valid page with what was typed, not a blank form.
        dashes = client.get("/verify", params={"code": "- - -"})
        assert dashes.status_code == 404 and "该验证码无效" in dashes.text and 'value="- - -"' in dashes.text
        spaced = "  ".join(confirmed["verification_code"]) + " " * 30  # 85 typed, the first 64 read
        found = client.get("/verify", params={"code": spaced}, follow_redirects=True)
        assert found.status_code == 200 and "沭阳花木合作社" in found.text
        # A person's name on the page: framed by no site, kept by no shared cache.
        for page in (sent, blank, dashes):
            assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
        marked = client.get("/verify/%3Cscript%3Ealert(1)")
        assert marked.status_code == 404 and "<script>" not in marked.text

    def test_a_revoked_honour_no_longer_verifies(self, client, db, star, shandong, confirmed):
        mentor, _ = star
        r = client.post(f"/api/v1/honours/{confirmed['id']}/revoke", headers=shandong.headers)
        assert r.status_code == 200 and r.json()["status"] == "revoked"
        assert client.get(f"/api/v1/verify/{confirmed['verification_code']}").status_code == 404
        db.expire_all()
        assert db.get(Mentor, mentor.id).honours == ["电商示范户"]
        cert = client.get(f"/api/v1/honours/{confirmed['id']}/certificate", headers=shandong.headers)
        assert cert.status_code == 409

    def test_verification_is_rate_limited(self, client, star):
        codes = [client.get(f"/api/v1/verify/{new_verification_code()}").status_code for _ in range(21)]
        assert codes[:20] == [404] * 20 and codes[20] == 429
        page = client.get("/verify/ABCD")
        # The oldest look-up leaves the minute within it, or at most one slot (4 s) later.
        assert page.status_code == 429 and 0 < int(page.headers["retry-after"]) <= 64
        assert page.headers["content-type"].startswith("text/html") and "一分钟后再试" in page.text

    def test_every_worker_process_shares_the_verification_limit(
        self, settings, engine, session_factory, star
    ):
        # The limit lived in each process's memory: four workers let four times as many guesses through.
        if not settings.database_url.startswith("postgresql"):
            pytest.skip("on SQLite each process counts in memory: a GET never waits for the write lock")
        from fastapi.testclient import TestClient

        from app.main import create_app

        workers = []
        for _ in range(2):
            application = create_app(settings, engine=engine)
            application.state.sessionmaker = session_factory
            workers.append(TestClient(application, raise_server_exceptions=False))
        codes = [
            workers[i % 2].get(f"/api/v1/verify/{new_verification_code()}").status_code for i in range(24)
        ]
        assert codes[:20] == [404] * 20 and set(codes[20:]) == {429}

    def test_code_normalisation(self):
        assert normalise_code(" abcd-efgh ") == "ABCDEFGH"  # not a full code: left ungrouped
        assert normalise_code("7kqm2ztax9pdh4we") == "7KQM-2ZTA-X9PD-H4WE"
        assert normalise_code("７ＫＱＭ－２ＺＴＡ－Ｘ９ＰＤ－Ｈ４ＷＥ") == "7KQM-2ZTA-X9PD-H4WE"
        assert normalise_code("7KQM—2ZTA 　X9PD.H4WE") == "7KQM-2ZTA-X9PD-H4WE"
        assert normalise_code("7KQM/2ZTA/X9PD/H4WE") == "7KQM-2ZTA-X9PD-H4WE"
        code = new_verification_code()
        assert normalise_code(code) == code


class TestCertificate:
    def test_pdf_for_staff_and_the_mentor_not_others(self, app, client, db, make_user, star, shandong):
        _, user = star
        honour = next(h for h in evaluate(client, shandong).json() if h["rule_code"] == "reach")
        url = f"/api/v1/honours/{honour['id']}/certificate"
        assert client.get(url, headers=shandong.headers).status_code == 409  # not yet confirmed
        code = client.post(f"/api/v1/honours/{honour['id']}/confirm", headers=shandong.headers).json()[
            "verification_code"
        ]
        for who in (shandong, user):
            r = client.get(url, headers=who.headers)
            assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
            assert r.content.startswith(b"%PDF")
        assert client.get(url, headers=make_user("mentor").headers).status_code == 404
        assert client.get(url, headers=make_user("coordinator", YUNNAN).headers).status_code == 404
        if shutil.which("pdftotext") is None:
            pytest.skip("poppler-utils not installed: text extraction not checked")
        text = subprocess.run(
            ["pdftotext", "-", "-"], input=r.content, capture_output=True, check=True
        ).stdout.decode()
        # The page that checks it is printed in full: paper has no address bar to complete a path.
        for expected in (
            "荣",
            "沭阳花木合作社",
            "带徒标兵",
            "山东省",
            code,
            f"http://testserver/verify/{code}",
        ):
            assert expected in text, expected
        assert db.get(Honour, honour["id"]).status == "confirmed"
        app.state.settings = app.state.settings.model_copy(
            update={"public_url": "https://jieduan.example.cn/"}
        )
        pdf = client.get(url, headers=shandong.headers).content
        text = subprocess.run(
            ["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True
        ).stdout.decode()
        assert f"https://jieduan.example.cn/verify/{code}" in text and "testserver" not in text
