"""The console's report and honour pages on the hand-built world: the same figures as the API, scoping,
bad forms in words, downloads, and an honour confirmed into a verifiable certificate.

The world and its figures are described in test_reports.py (range 2026-01-01..2026-06-30).
"""

from __future__ import annotations

import csv
import html
import io
import re

import pytest
from openpyxl import load_workbook

from app.console.report_views import column_label
from app.models import Honour, Mentor
from app.reports.service import REPORT_NAMES
from tests.conftest import JIANGSU, SHANDONG, YUNNAN
from tests.console.helpers import csrf_token, sign_in
from tests.impact.conftest import RANGE

ROW = re.compile(r"<tr>(.*?)</tr>", re.S)
CELL = re.compile(r'<td data-col="(\w+)"[^>]*>(.*?)</td>', re.S)
QUERY = "date_from=2026-01-01&date_to=2026-06-30"


def table(page: str) -> list[dict[str, str]]:
    """The report table of a page as rows of column -> shown text."""
    body = page.split('id="report-table"', 1)[1].split("</table>", 1)[0] if "report-table" in page else ""
    return [
        {col: html.unescape(text) for col, text in CELL.findall(row)}
        for row in ROW.findall(body)
        if CELL.search(row)
    ]


@pytest.fixture
def coordinator(client, make_user):
    """Sign the client in as a console user; returns the CSRF token for its forms."""

    def _as(jurisdiction: str | None, role: str = "coordinator") -> str:
        user = make_user(role, jurisdiction)
        client.cookies.clear()
        sign_in(client, user.username)
        return csrf_token(client, "/console")

    return _as


class TestReportPages:
    def test_catalogue_links_every_report_the_flows_map_and_honours(self, client, coordinator):
        coordinator(SHANDONG)
        page = client.get("/console/reports")
        assert page.status_code == 200
        for name in REPORT_NAMES:
            assert f'href="/console/reports/{name}"' in page.text
        assert 'href="/console/flows"' in page.text and 'href="/console/honours"' in page.text
        assert "报表" in client.get("/console").text  # in the navigation

    @pytest.mark.parametrize("path", ["/console/reports/zzz", "/console/reports/zzz/export?format=csv"])
    def test_an_unknown_report_is_a_not_found_page(self, client, coordinator, path):
        coordinator(SHANDONG)
        page = client.get(path)
        assert page.status_code == 404 and "text/html" in page.headers["content-type"]

    def test_reach_shows_the_worlds_figures(self, client, world, coordinator):
        coordinator(SHANDONG)
        page = client.get(f"/console/reports/reach?{QUERY}&by=county")
        assert page.status_code == 200
        assert [
            (r["region_code"], r["name"], r["newcomers_reached"], r["mentors"], r["matches"], r["cancelled"])
            for r in table(page.text)
        ] == [(world.caoxian, "曹县", "3", "2", "3", "1")]
        assert 'data-chart="newcomers_reached"' in page.text
        # The range as the service read it, the jurisdiction by name, the definitions in Chinese.
        assert 'value="2026-01-01"' in page.text and "山东省 (37)" in page.text
        assert "时间范围按结对生效" in page.text
        # The group key is said by the name; the definitions name the columns by their headings.
        assert 'data-col="key"' not in page.text
        assert "覆盖新农人：范围内" in page.text and "newcomers_reached：" not in page.text
        outcomes = client.get(f"/console/reports/outcomes?{QUERY}").text
        definitions = outcomes.split('id="definitions"')[1]
        assert "「90 天内首单占比」为其" in definitions and "share_first_sale_90d" not in definitions
        # A pairing type has no region: the empty column is not shown.
        assert 'data-col="region_code"' not in outcomes
        by_mentor = table(client.get(f"/console/reports/reach?{QUERY}&by=mentor").text)
        assert {r["name"]: r["newcomers_reached"] for r in by_mentor} == {"花木导师A": "2", "云南导师B": "1"}

    def test_outcomes_shares_medians_and_growth(self, client, world, coordinator):
        coordinator(SHANDONG)
        rows = {r["name"]: r for r in table(client.get(f"/console/reports/outcomes?{QUERY}").text)}
        chain = rows["产业链上下游"]
        assert (chain["share_first_sale_90d"], chain["median_days_to_first_sale"]) == ("100.0%", "30.0")
        assert rows["同行业"]["mean_orders_growth"] == "10.0"
        assert rows["其他"]["median_days_to_first_sale"] == "—"
        client.get("/console/lang/en?next=/console")
        english = table(client.get(f"/console/reports/outcomes?{QUERY}").text)
        assert {r["name"] for r in english} == {"up/downstream", "same trade", "other"}
        client.get("/console/lang/zh-CN?next=/console")
        mentor = table(client.get(f"/console/reports/outcomes?{QUERY}&by=mentor").text)
        a = next(r for r in mentor if r["name"] == "花木导师A")
        # Days 30 and 100: the mean of the middle two; one of two within 90 days.
        assert (a["median_days_to_first_sale"], a["share_first_sale_90d"]) == ("65.0", "50.0%")

    def test_fulfilment_gaps_equity_homogenisation(self, client, world, coordinator):
        coordinator(SHANDONG)
        fulfilment = table(client.get(f"/console/reports/fulfilment?{QUERY}").text)
        assert {r["name"]: r["fulfilment_rate"] for r in fulfilment} == {
            "花木导师A": "75.0%",
            "云南导师B": "0.0%",
        }
        gaps = {r["county_code"]: r for r in table(client.get(f"/console/reports/gaps?{QUERY}").text)}
        assert (gaps[world.caoxian]["waiting"], gaps[world.caoxian]["no_mentors"]) == ("2", "是")
        equity = table(client.get(f"/console/reports/equity?{QUERY}").text)
        assert [(r["quintile"], r["newcomers"], r["match_rate"]) for r in equity][:2] == [
            ("1", "5", "60.0%"),
            ("2", "1", "0.0%"),
        ]
        homog = table(client.get(f"/console/reports/homogenisation?{QUERY}").text)
        assert [(r["county_code"], r["top_category_name"], r["top_share"]) for r in homog] == [
            (world.caoxian, "茶叶种植", "80.0%")
        ]

    def test_flows_matrix_links_the_map(self, client, world, coordinator):
        coordinator(SHANDONG)
        page = client.get(f"/console/reports/flows?{QUERY}").text
        # The map link carries the range, so the map shows the same flows.
        assert (
            'id="report-matrix"' in page
            and f'href="/console/flows?{html.escape(QUERY)}" id="flows-link"' in page
        )
        flows = [(r["from_province"], r["to_province"], r["matches"]) for r in table(page)]
        assert flows == [("32", "37", "2"), ("53", "37", "1")]

    def test_english(self, client, world, coordinator):
        coordinator(SHANDONG)
        client.get("/console/lang/en?next=/console")
        page = client.get(f"/console/reports/reach?{QUERY}").text
        assert '<html lang="en">' in page and "Newcomers reached" in page
        assert "The range applies to the day a match became active" in page
        assert "时间范围按结对生效" not in page
        # The top product by its English name (the service names it in Chinese).
        homog = table(client.get(f"/console/reports/homogenisation?{QUERY}").text)
        assert [r["top_category_name"] for r in homog] == ["tea growing"]

    def test_scoped_to_the_jurisdiction(self, client, world, coordinator):
        coordinator(YUNNAN)
        rows = table(client.get(f"/console/reports/reach?{QUERY}").text)
        assert [r["region_code"] for r in rows] == [world.yunnan]
        page = client.get(f"/console/reports/reach?{QUERY}&region={SHANDONG}")
        assert page.status_code == 404 and "不在您的管辖范围内" in page.text
        assert client.get(f"/console/reports/reach/export?{QUERY}&region={SHANDONG}").status_code == 404
        coordinator(JIANGSU)
        page = client.get(f"/console/reports/reach?{QUERY}")
        assert table(page.text) == [] and 'id="no-rows"' in page.text

    @pytest.mark.parametrize(
        ("query", "status", "words"),
        [
            ("date_from=2026-05-01&date_to=2026-04-01", 422, "起止日期不正确"),
            ("by=colour", 422, "该报表可按"),
            ("date_from=yesterday", 422, None),
        ],
    )
    def test_bad_forms_are_refused_in_words(self, client, coordinator, query, status, words):
        coordinator(SHANDONG)
        page = client.get(f"/console/reports/reach?{query}")
        assert page.status_code == status
        if words:
            assert words in page.text and 'id="report-form"' in page.text

    def test_xlsx_download_has_the_apis_figures(self, client, world, coordinator, make_user):
        coordinator(SHANDONG)
        page = client.get(f"/console/reports/outcomes?{QUERY}&by=mentor").text
        link = html.unescape(re.search(r'id="download-xlsx" href="([^"]+)"', page).group(1))
        r = client.get(link)
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
        assert "attachment" in r.headers["content-disposition"]
        book = load_workbook(io.BytesIO(r.content), read_only=True)
        # Worded for the people who open it: the page's title, headings and names, not the API's codes.
        assert book.sheetnames == ["经营成效", "口径说明"]
        sheet = [list(row) for row in book["经营成效"].values]
        assert sheet[0][0] == "经营成效" and sheet[1][:2] == ["范围", f"山东省 ({SHANDONG})"]
        header, rows = sheet[2], sheet[3:]
        api = client.get(
            "/api/v1/reports/outcomes",
            params={**RANGE, "by": "mentor"},
            headers=make_user("coordinator", SHANDONG).headers,
        ).json()
        code_of = {column_label(c, "zh-CN"): c for c in api["columns"]}
        assert set(header) <= set(code_of) and "key" not in {code_of[h] for h in header}
        assert len(rows) == len(api["rows"]) == 2
        for got, want in zip(rows, api["rows"], strict=True):
            # Write-only sheets leave trailing empty cells out; the figures are the API's, rounded.
            for heading, value in zip(header, got, strict=False):
                expected = want[code_of[heading]]
                if isinstance(expected, float):
                    assert value == pytest.approx(expected, abs=1e-4), heading
                else:
                    assert value == expected, heading
        assert next(line[0] for line in book["口径说明"].values)

    def test_csv_download(self, client, world, coordinator):
        coordinator(SHANDONG)
        r = client.get(f"/console/reports/reach/export?{QUERY}&format=csv")
        assert r.status_code == 200 and r.content.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
        assert rows[0][:3] == ["名称", "地区代码", "覆盖新农人"]
        assert rows[1][:3] == ["曹县", world.caoxian, "3"]

    @pytest.mark.parametrize("name", REPORT_NAMES)
    def test_every_report_renders_nationwide_for_an_admin(self, client, world, coordinator, name):
        coordinator(None, role="admin")
        page = client.get(f"/console/reports/{name}")
        assert page.status_code == 200 and 'id="definitions"' in page.text and "全国" in page.text


def grid(page: str, table_id: str) -> dict[tuple[str, str], int]:
    """A matrix table of a page as (row heading, column heading) -> figure, empty cells left out."""
    body = page.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    heads = re.findall(r"<th scope=\"col\">(.*?)</th>", body)[1:]  # the first heads the row labels
    out = {}
    for label, cells in re.findall(r'<tr><th scope="row">(.*?)</th>(.*?)</tr>', body, re.S):
        for column, text in zip(heads, re.findall(r"<td[^>]*>(.*?)</td>", cells), strict=True):
            if text:
                out[(html.unescape(label), html.unescape(column))] = int(text)
    return out


def quintile_rows(page: str) -> list[tuple[int, int, int]]:
    """The flows page's quintile table as (quintile, newcomers, matched)."""
    body = page.split('id="quintiles"', 1)[1].split("</table>", 1)[0]
    return [
        (int(q), int(n), int(m))
        for q, n, m in re.findall(r'Q(\d)</th><td class="num">(\d+)</td><td class="num">(\d+)</td>', body)
    ]


def api_report(client, user, name: str) -> dict:
    """A report's JSON body over the test range."""
    r = client.get(f"/api/v1/reports/{name}", params=RANGE, headers=user.headers)
    assert r.status_code == 200, r.text
    return r.json()


class TestFlowsPage:
    """The map page shows the flows and equity reports' figures for the same range and region."""

    @pytest.mark.parametrize("jurisdiction", [SHANDONG, YUNNAN, JIANGSU])
    def test_figures_equal_the_api_reports(self, client, world, coordinator, make_user, jurisdiction):
        coordinator(jurisdiction)
        page = client.get(f"/console/flows?{QUERY}")
        assert page.status_code == 200
        user = make_user("coordinator", jurisdiction)
        flows = api_report(client, user, "flows")
        want = {(r["from_name"], r["to_name"]): r["matches"] for r in flows["rows"]}
        assert want and grid(page.text, "flow-matrix") == want
        equity = api_report(client, user, "equity")
        assert quintile_rows(page.text) == [
            (r["quintile"], r["newcomers"], r["newcomers_matched"]) for r in equity["rows"]
        ]
        # Each flow between two provinces is a line on the map.
        lines = {(r["from_name"], r["to_name"], r["matches"]) for r in flows["rows"]}
        assert all(f"<title>{a} → {b}: {n}</title>" in page.text for a, b, n in lines)

    def test_the_worlds_figures_and_the_xlsx_download(self, client, world, coordinator):
        coordinator(SHANDONG)
        page = client.get(f"/console/flows?{QUERY}").text
        # m4 (active, but activated after the range) is no flow of this range.
        assert grid(page, "flow-matrix") == {("江苏省", "山东省"): 2, ("云南省", "山东省"): 1}
        # Rows only for provinces flows leave, columns only for those they reach.
        matrix = page.split('id="flow-matrix"', 1)[1].split("</table>", 1)[0]
        assert matrix.count('<th scope="col">') == 2 and matrix.count('<th scope="row">') == 2
        assert quintile_rows(page)[:2] == [(1, 5, 3), (2, 1, 0)]
        assert "五分位按全国各县电商渗透率从低到高等分" in page and "行为导师所在省" in page
        link = html.unescape(re.search(r'id="download-flows" href="([^"]+)"', page).group(1))
        sheet = [
            list(r)
            for r in load_workbook(io.BytesIO(client.get(link).content), read_only=True)[
                "跨省结对流向"
            ].values
        ]
        header, rows = sheet[2], sheet[3:]
        named = {
            (r[header.index("导师所在省")], r[header.index("新农人所在省")]): r[header.index("结对数")]
            for r in rows
        }
        assert named == grid(page, "flow-matrix")

    def test_range_and_region(self, client, world, coordinator):
        coordinator(SHANDONG)
        # A range that holds m4 only, and a region inside the jurisdiction without flows.
        late = grid(client.get("/console/flows?date_from=2026-07-01&date_to=2026-07-31").text, "flow-matrix")
        assert list(late.values()) == [1]
        quiet = client.get(f"/console/flows?{QUERY}&region={world.shandong_other}")
        assert quiet.status_code == 200 and 'id="no-flows"' in quiet.text

    @pytest.mark.parametrize(
        ("query", "status", "words"),
        [
            ("date_from=2026-05-01&date_to=2026-04-01", 422, "起止日期不正确"),
            (f"region={YUNNAN}", 404, "不在您的管辖范围内"),
        ],
    )
    def test_bad_forms_are_refused(self, client, world, coordinator, query, status, words):
        coordinator(SHANDONG)
        page = client.get(f"/console/flows?{query}")
        assert page.status_code == status and words in page.text


class TestHonourPages:
    def _evaluate(self, client, token, **form):
        data = {"csrftoken": token, "period_start": "2026-01-01", "period_end": "2026-06-30", **form}
        return client.post("/console/honours/evaluate", data=data, follow_redirects=False)

    def test_evaluate_confirm_certificate_verify_revoke(self, client, db, star, coordinator):
        mentor, _ = star
        token = coordinator(SHANDONG)
        r = self._evaluate(client, token)
        assert r.status_code == 303 and "proposed=4" in r.headers["location"]
        page = client.get(r.headers["location"])
        assert "本次新提出的荣誉数：4" in page.text and "重叠的期间" not in page.text
        # The same half-year again (its end a day earlier) proposes nothing, and the page says why.
        shifted = client.get(self._evaluate(client, token, period_end="2026-06-29").headers["location"])
        assert "本次新提出的荣誉数：0" in shifted.text and "已就重叠的期间评定过同一荣誉" in shifted.text
        honours = {h.rule_code: h for h in db.query(Honour).filter(Honour.mentor_id == mentor.id)}
        outcomes = honours["outcomes"]
        assert f'id="confirm-{outcomes.id}"' in page.text and "致富领头雁" in page.text
        r = client.post(
            f"/console/honours/{outcomes.id}/confirm", data={"csrftoken": token}, follow_redirects=False
        )
        assert r.status_code == 303
        page = client.get(r.headers["location"]).text
        db.expire_all()
        code = db.get(Honour, outcomes.id).verification_code
        assert code and f'<code id="done-code">{code}</code>' in page
        assert db.get(Mentor, mentor.id).honours == ["电商示范户", "致富领头雁"]
        # The certificate link from the notice, and the public page for its code.
        pdf = client.get(f"/console/honours/{outcomes.id}/certificate")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        assert pdf.headers["content-type"] == "application/pdf"
        verified = client.get(f"/verify/{code}")
        assert verified.status_code == 200 and "沭阳花木合作社" in verified.text
        # Confirming again says why, in words; revoking ends the code.
        again = client.post(f"/console/honours/{outcomes.id}/confirm", data={"csrftoken": token})
        assert again.status_code == 409 and "该荣誉已处理" in again.text
        r = client.post(
            f"/console/honours/{outcomes.id}/revoke", data={"csrftoken": token}, follow_redirects=False
        )
        assert r.status_code == 303 and "已撤销荣誉" in client.get(r.headers["location"]).text
        assert client.get(f"/verify/{code}").status_code == 404
        assert client.get(f"/console/honours/{outcomes.id}/certificate").status_code == 409

    def test_another_jurisdiction_sees_and_decides_nothing(self, client, db, star, coordinator):
        token = coordinator(SHANDONG)
        self._evaluate(client, token)
        honour = db.query(Honour).filter(Honour.rule_code == "reach").one()
        token = coordinator(YUNNAN)
        assert f'data-honour="{honour.id}"' not in client.get("/console/honours").text
        r = client.post(f"/console/honours/{honour.id}/confirm", data={"csrftoken": token})
        assert r.status_code == 404
        assert client.get(f"/console/honours/{honour.id}/certificate").status_code == 404
        db.expire_all()
        assert db.get(Honour, honour.id).status == "proposed"

    def test_confirm_needs_the_csrf_token(self, client, db, star, coordinator):
        token = coordinator(SHANDONG)
        self._evaluate(client, token)
        honour = db.query(Honour).filter(Honour.rule_code == "reach").one()
        r = client.post(f"/console/honours/{honour.id}/confirm", data={"csrftoken": "forged"})
        assert r.status_code == 403 and "csrf_failed" in r.text
        db.expire_all()
        assert db.get(Honour, honour.id).status == "proposed"

    @pytest.mark.parametrize(
        ("role", "form", "status", "words"),
        [
            ("coordinator", {"period_start": "2026-07-01"}, 422, "起止日期"),
            ("coordinator", {"period_end": "not-a-day"}, 422, "period_end"),
            ("admin", {}, 422, "请指定地区"),
            ("coordinator", {"region": YUNNAN}, 404, "不在您的管辖范围内"),
        ],
    )
    def test_bad_evaluations_are_refused_in_words(
        self, client, db, star, coordinator, role, form, status, words
    ):
        token = coordinator(SHANDONG if role == "coordinator" else None, role=role)
        r = self._evaluate(client, token, **form)
        assert r.status_code == status and words in r.text
        assert 'id="evaluate-form"' in r.text
        assert db.query(Honour).count() == 0
