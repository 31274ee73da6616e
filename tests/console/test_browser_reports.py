"""Reports and honours in Chromium against a real server: a coordinator reads figures of hand-built data,
downloads the XLSX, confirms an honour whose certificate verifies; zh and en; a phone.

The hand-built pairs all became active in the first half of 2020, long before anything else in the
database, so the range 2020-01-01..2020-06-30 holds them alone. They are all ended (completed or
cancelled), so they change no count of the other browser tests, which look at proposed, approved and
active matches.

  mentor A 示范导师甲 (Shuyang, Jiangsu), mentor B 示范导师乙 (Yunnan)
  m1 A-n1 Caoxian  2020-01-10  sale +20,  orders 0->12, chain       periods 4/0/0
  m2 A-n2 Caoxian  2020-02-01  sale +40,  orders 2->10, chain       periods 3/1/0
  m3 A-n3 Caoxian  2020-03-01  sale +120,               same_trade  periods 2/0/2
  m4 A-n4 Caoxian  2020-03-15  cancelled, no sale,      other       periods 0/0/3
  m5 A-n5 Caoxian  2020-04-01  sale +60,                chain       periods 4/0/0
  m6 B-n6 D        2020-05-01  sale +30,                other
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect
from sqlalchemy import select, update

from app.console.report_views import COLUMNS
from app.models import Honour, Mentor, Newcomer, Region
from app.seed.demo import DEMO_PASSWORD
from tests.console.conftest import PHONE, no_horizontal_scroll, shoot
from tests.impact.conftest import add_match, add_mentor, add_newcomer, first_county

COORDINATOR = "coord-shandong-impact"
RANGE = "date_from=2020-01-01&date_to=2020-06-30"
BEFORE = datetime(2019, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def pairs(live) -> dict[str, str]:
    """The hand-built pairs above, committed, and a coordinator of Shandong to read them."""
    from app.accounts.service import create_staff_account

    with live.sessions.begin() as s:
        create_staff_account(
            s,
            username=COORDINATOR,
            password=DEMO_PASSWORD,
            role="coordinator",
            display_name="山东省协调员",
            jurisdiction_code="37",
        )
        other = first_county(s, "37", ("371721",))
        a = add_mentor(s, "321322", "示范导师甲")
        b = add_mentor(s, first_county(s, "53"), "示范导师乙")
        n = [add_newcomer(s, "371721", f"曹县试点户{i}") for i in range(1, 6)]
        n.append(add_newcomer(s, other, "山东试点户6"))
        for mentor, newcomer, status, day, sale, base, latest, pairing, periods in (
            (a, n[0], "completed", date(2020, 1, 10), 20, 0, 12, "chain", (4, 0, 0)),
            (a, n[1], "completed", date(2020, 2, 1), 40, 2, 10, "chain", (3, 1, 0)),
            (a, n[2], "completed", date(2020, 3, 1), 120, 0, None, "same_trade", (2, 0, 2)),
            (a, n[3], "cancelled", date(2020, 3, 15), None, 0, None, "other", (0, 0, 3)),
            (a, n[4], "completed", date(2020, 4, 1), 60, 0, None, "chain", (4, 0, 0)),
            (b, n[5], "completed", date(2020, 5, 1), 30, 0, None, "other", None),
        ):
            add_match(
                s,
                mentor,
                newcomer,
                status=status,
                activated_on=day,
                days_to_first_sale=sale,
                baseline_orders=base,
                latest_orders=latest,
                pairing=pairing,
                periods=periods,
            )
        # The profiles existed before the range ended (the place reports count profiles that did).
        s.execute(update(Mentor).where(Mentor.id.in_((a.id, b.id))).values(created_at=BEFORE))
        s.execute(update(Newcomer).where(Newcomer.id.in_([x.id for x in n])).values(created_at=BEFORE))
    return {"other": other}


def _cells(page, key: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The cells of the report table's row whose first column (or name) is `key`."""
    rows = page.locator("#report-table tbody tr").filter(has=page.locator(f"td:text-is('{key}')"))
    expect(rows).to_have_count(1)
    cells = rows.first.locator("td")
    return {cells.nth(i).get_attribute("data-col"): cells.nth(i).inner_text() for i in range(cells.count())}


class TestReports:
    def test_coordinator_reads_the_figures_and_downloads_the_xlsx(self, open_page, live, pairs):
        page = open_page(COORDINATOR)
        page.get_by_role("navigation").get_by_role("link", name="报表").click()
        page.get_by_role("link", name="结对覆盖").click()
        page.get_by_label("起始日期").fill("2020-01-01")
        page.get_by_label("截止日期").fill("2020-06-30")
        page.get_by_role("button", name="查看").click()
        page.wait_for_url(re.compile(r"date_from=2020-01-01"))
        expect(page.locator("#report-table tbody tr")).to_have_count(2)
        caoxian = _cells(page, "371721")
        assert (caoxian["name"], caoxian["newcomers_reached"], caoxian["mentors"]) == ("曹县", "5", "1")
        assert (caoxian["completed"], caoxian["cancelled"]) == ("4", "1")
        assert _cells(page, pairs["other"])["newcomers_reached"] == "1"
        expect(page.locator("[data-chart=newcomers_reached] li")).to_have_count(2)
        expect(page.locator("#definitions")).to_contain_text("时间范围按结对生效")
        shoot(page, "reports-reach")
        page.get_by_label("分组").select_option("mentor")
        page.get_by_role("button", name="查看").click()
        page.wait_for_url(re.compile(r"by=mentor"))
        assert _cells(page, "示范导师甲")["newcomers_reached"] == "5"

        page.goto("/console/reports")
        page.get_by_role("link", name="经营成效").click()
        page.get_by_label("起始日期").fill("2020-01-01")
        page.get_by_label("截止日期").fill("2020-06-30")
        page.get_by_role("button", name="查看").click()
        page.wait_for_url(re.compile(r"date_to=2020-06-30"))
        chain = _cells(page, "产业链上下游")
        assert (chain["matches"], chain["share_first_sale_90d"], chain["median_days_to_first_sale"]) == (
            "3",
            "100.0%",
            "40.0",
        )
        assert chain["mean_orders_growth"] == "10.0"  # (12 + 8) / 2: the two with a monthly report
        other = _cells(page, "其他")
        assert (other["share_first_sale_90d"], other["median_days_to_first_sale"]) == ("50.0%", "30.0")
        shoot(page, "reports-outcomes")
        page.get_by_label("分组").select_option("mentor")
        page.get_by_role("button", name="查看").click()
        page.wait_for_url(re.compile(r"by=mentor"))
        a = _cells(page, "示范导师甲")
        # Days 20, 40, 60, 120: the mean of the middle two; three of five within 90 days.
        assert (a["median_days_to_first_sale"], a["share_first_sale_90d"]) == ("50.0", "60.0%")
        with page.expect_download() as info:
            page.locator("#download-xlsx").click()
        assert info.value.suggested_filename == "outcomes_37_2020-01-01_2020-06-30.xlsx"
        book = load_workbook(io.BytesIO(Path(info.value.path()).read_bytes()), read_only=True)
        sheet = [list(r) for r in book["经营成效"].values]  # worded as the page is
        code_of = {zh: code for code, (zh, _) in COLUMNS.items()}
        header = [code_of.get(h, h) for h in sheet[2]]
        rows = {r[header.index("name")]: dict(zip(header, r, strict=False)) for r in sheet[3:]}
        assert rows["示范导师甲"]["median_days_to_first_sale"] == 50
        assert rows["示范导师甲"]["first_sale_90d"] == 3 and rows["示范导师乙"]["matches"] == 1
        assert rows["示范导师甲"]["share_first_sale_90d"] == 0.6  # a number, shown as 60.0% by its format

    @pytest.mark.parametrize("name", ["fulfilment", "flows", "gaps", "equity", "homogenisation"])
    def test_every_report_page(self, open_page, live, pairs, name):
        page = open_page(COORDINATOR)
        page.goto(f"/console/reports/{name}?{RANGE}")
        expect(page.locator("#definitions li").first).to_be_visible()
        expect(page.locator("#download-xlsx")).to_be_visible()
        if name == "fulfilment":
            assert _cells(page, "示范导师甲")["fulfilment_rate"] == "71.1%"  # (13 + ½) / 19
        elif name == "flows":
            expect(page.locator("#report-matrix")).to_contain_text("5")
            assert _cells(page, "32")["to_province"] == "37"
            page.locator("#flows-link").click()
            # The map opens on the same range, with the same figures.
            expect(page).to_have_url(re.compile(r"/console/flows\?" + re.escape(RANGE) + "$"))
            expect(page.locator("#flow-matrix")).to_contain_text("5")
        elif name == "gaps":
            # n4's only match was cancelled: one newcomer of Caoxian waits, and no match there is active.
            caoxian = _cells(page, "371721")
            assert (caoxian["newcomers"], caoxian["waiting"], caoxian["no_active_match"]) == ("5", "1", "是")
        elif name == "equity":
            expect(page.locator("#report-table tbody tr")).to_have_count(5)
            matched = [int(x) for x in page.locator("td[data-col=newcomers_matched]").all_inner_texts()]
            with live.sessions() as s:
                # Newcomers count in a quintile when their county has a penetration figure.
                tiered = set(
                    s.scalars(
                        select(Region.code).where(
                            Region.code.in_(("371721", pairs["other"])), Region.penetration.is_not(None)
                        )
                    )
                )
            assert sum(matched) == 5 * ("371721" in tiered) + 1 * (pairs["other"] in tiered) > 0
        else:
            # All five newcomers of Caoxian grow tea.
            assert _cells(page, "371721")["top_share"] == "100.0%"
        shoot(page, f"reports-{name}")


class TestHonours:
    def test_confirm_an_honour_and_its_certificate_verifies(self, open_page, live, pairs):
        page = open_page(COORDINATOR)
        page.get_by_role("navigation").get_by_role("link", name="荣誉").click()
        page.get_by_label("评定期起").fill("2020-01-01")
        page.get_by_label("评定期止").fill("2020-06-30")
        page.locator("#evaluate-form").get_by_role("button", name="评定荣誉").click()
        # Mentor A reached five newcomers and three of them sold within 90 days.
        expect(page.get_by_role("status")).to_contain_text("本次新提出的荣誉数：2")
        row = page.locator("#honours tbody tr").filter(has_text="示范导师甲").filter(has_text="带徒标兵")
        expect(row).to_have_count(1)
        shoot(page, "honours-proposed")
        row.get_by_role("button", name=re.compile("确认")).click()
        expect(page.locator("#done-notice")).to_contain_text("已确认荣誉")
        code = page.locator("#done-code").inner_text()
        assert re.fullmatch(r"[A-Z2-9]{4}(-[A-Z2-9]{4}){3}", code)
        shoot(page, "honours-confirmed")
        with page.expect_download() as info:
            page.locator("#done-certificate").click()
        pdf = Path(info.value.path()).read_bytes()
        assert pdf.startswith(b"%PDF")
        if shutil.which("pdftotext"):
            text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout
            assert "示范导师甲" in text.decode() and code in text.decode()
        with page.context.expect_page() as tab:
            page.locator("#done-verify").click()
        verify = tab.value
        expect(verify.locator("body")).to_contain_text("示范导师甲")
        expect(verify.locator("body")).to_contain_text("带徒标兵")
        shoot(verify, "verify")
        with live.sessions() as s:
            honour = s.scalar(select(Honour).where(Honour.verification_code == code))
            assert honour.status == "confirmed"
            assert "带徒标兵" in s.get(Mentor, honour.mentor_id).honours


class TestLanguageAndPhone:
    def test_english(self, open_page, live, pairs):
        page = open_page(COORDINATOR, lang="en")
        page.goto(f"/console/reports/outcomes?{RANGE}")
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.locator("h1")).to_have_text("Outcomes")
        expect(page.locator("#report-table thead")).to_contain_text("Median days to first sale")
        expect(page.locator("#definitions")).to_contain_text("first online sale came within 90 days")
        assert _cells(page, "up/downstream")["share_first_sale_90d"] == "100.0%"
        shoot(page, "reports-outcomes-en")
        page.goto("/console/honours")
        expect(page.locator("#evaluate-form")).to_contain_text("Evaluate honours")
        shoot(page, "honours-en")

    @pytest.mark.parametrize(
        "path",
        [
            "/console/reports",
            f"/console/reports/reach?{RANGE}",
            f"/console/reports/outcomes?{RANGE}&by=mentor",
            f"/console/reports/flows?{RANGE}",
            f"/console/reports/equity?{RANGE}",
            "/console/honours",
        ],
    )
    def test_pages_fit_a_phone(self, open_page, live, pairs, path):
        page = open_page(COORDINATOR, viewport=PHONE)
        page.goto(path)
        assert no_horizontal_scroll(page), path
        name = path.split("?")[0].replace("/console/", "").replace("/", "-") or "reports"
        shoot(page, f"phone-{name}{'-mentor' if 'by=mentor' in path else ''}")
