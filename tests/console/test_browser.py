"""The console in Chromium against a real server: every journey, end to end, zh and en, desktop and phone."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, or_, select

from app.access import Caller
from app.db import china_today
from app.models import Account, Match, MatchingRun, MatchOutcome, Mentor, Newcomer, RosterImport
from app.reports.service import DEFAULT_RANGE_DAYS
from app.runs import service as runs
from app.runs.schemas import RunCreate
from tests.console.conftest import PHONE, WAIT_MS, no_horizontal_scroll, shoot, sign_in

SAMPLE_ROSTER = Path(__file__).resolve().parents[2] / "docs" / "sample-roster-gbk.csv"
# A proposal's own page (not the queue): a click on a queue row only starts the navigation to it.
PROPOSAL_PAGE = re.compile(r"/console/proposals/\d+(\?|$)")


@pytest.fixture(scope="module")
def jiangsu_run(live) -> int:
    """Proposals for Jiangsu's newcomers, made by a run the server's own worker executes."""
    with live.sessions.begin() as s:
        coord = s.scalar(select(Account).where(Account.username == "coord-jiangsu"))
        caller = Caller.of(coord)
        params = RunCreate(scope_code="32", k=5)
        run_id = runs.create_run(s, caller, params).id
    live.wait_for(lambda s: s.get(MatchingRun, run_id).status == "done")
    return run_id


def _pending(live, **where) -> int:  # type: ignore[no-untyped-def]
    with live.sessions() as s:
        stmt = select(func.count()).select_from(Match).where(Match.status == "proposed")
        for key, value in where.items():
            stmt = stmt.where(getattr(Match, key) == value)
        return int(s.scalar(stmt) or 0)


class TestSignIn:
    def test_sign_in_and_out(self, open_page, live):
        page = open_page()
        page.goto("/console/proposals")
        expect(page).to_have_url(re.compile(r"/console/login\?next="))
        shoot(page, "login")
        sign_in(page, "coord-jiangsu")
        page.get_by_role("button", name="退出登录").click()
        expect(page.get_by_role("status")).to_contain_text("您已退出登录")
        page.goto("/console")
        expect(page).to_have_url(re.compile(r"/console/login"))

    def test_mentor_is_turned_away_politely(self, open_page):
        page = open_page()
        page.goto("/console/login")
        page.get_by_label("用户名").fill("13800000001")
        page.get_by_label("密码").fill("jieduan-demo")
        page.get_by_role("button", name="登录").click()
        expect(page.get_by_role("alert")).to_contain_text("工作台仅供协调员")
        page.goto("/console")
        expect(page).to_have_url(re.compile(r"/console/login"))

    def test_deactivated_staff_is_out_on_the_next_click(self, open_page, live):
        with live.sessions.begin() as s:
            from app.accounts.service import create_staff_account

            create_staff_account(
                s,
                username="coord-leaving",
                password="jieduan-demo",
                role="coordinator",
                display_name="要离开的",
                jurisdiction_code="32",
            )
        page = open_page("coord-leaving")
        admin = open_page("admin")
        admin.goto("/console/admin/accounts")
        button = admin.locator("tr[data-account='coord-leaving']").get_by_role("button", name="停用")
        # The browser asks first: dismissed, nothing changes; accepted, the account is stopped.
        asked: list[str] = []
        admin.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
        button.click()
        expect(admin.locator("tr[data-account='coord-leaving']")).to_be_visible()
        assert asked and "coord-leaving" in asked[0] and "确定停用" in asked[0]
        with live.sessions() as s:
            assert s.scalar(select(Account.is_active).where(Account.username == "coord-leaving"))
        admin.once("dialog", lambda d: d.accept())
        button.click()
        expect(admin.get_by_role("status")).to_contain_text("已保存")
        page.goto("/console/proposals")
        expect(page).to_have_url(re.compile(r"/console/login"))


class TestCoordinator:
    def test_home_counts_link_to_the_queue(self, open_page, live, jiangsu_run):
        page = open_page("coord-jiangsu")
        expect(page.locator("[data-count=pending]")).to_have_text(str(_pending(live)))
        shoot(page, "home")
        page.locator("a:has([data-count=pending])").click()
        expect(page).to_have_url(re.compile(r"/console/proposals$"))
        expect(page.locator("table.queue tbody tr").first).to_be_visible()

    def test_queue_is_sorted_filtered_and_paged(self, open_page, live, jiangsu_run):
        page = open_page("coord-jiangsu")
        page.goto("/console/proposals")
        shoot(page, "review-queue")
        scores = [float(s) for s in page.locator("table.queue tbody td.num:first-child").all_inner_texts()]
        assert scores == sorted(scores, reverse=True) and len(scores) == min(50, _pending(live))
        page.get_by_label("最低分").fill(f"{scores[len(scores) // 2]:.3f}")
        page.get_by_label("匹配任务编号").fill(str(jiangsu_run))
        page.get_by_role("button", name="筛选").click()
        page.wait_for_url(re.compile(r"min_score="))
        filtered = [float(s) for s in page.locator("table.queue tbody td.num:first-child").all_inner_texts()]
        assert filtered and min(filtered) >= round(scores[len(scores) // 2], 3) - 1e-9
        if _pending(live) > 50:
            page.goto("/console/proposals")
            page.get_by_role("link", name="下一页").click()
            page.wait_for_url(re.compile(r"cursor="))
            second = [
                float(s) for s in page.locator("table.queue tbody td.num:first-child").all_inner_texts()
            ]
            assert second and max(second) <= min(scores)

    def test_approve_with_edited_commitment_then_keyboard(self, open_page, live, jiangsu_run):
        page = open_page("coord-jiangsu")
        page.goto("/console/proposals")
        page.locator("table.queue tbody tr a").first.click()
        expect(page.locator("#approve-form")).to_be_visible()
        shoot(page, "proposal")
        first_id = int(page.url.rsplit("/", 1)[1].split("?")[0])
        expect(page.locator(".party")).to_have_count(2)
        expect(page.locator("svg.bar").first).to_be_visible()
        description = page.locator("#de-1")
        if description.count():
            description.fill("每两周一次直播带货指导")
        page.get_by_role("button", name=re.compile("批准")).click()
        expect(page.get_by_role("status")).to_contain_text(f"已批准推荐 #{first_id}")
        with live.sessions() as s:
            approved = s.get(Match, first_id)
            assert approved.status == "approved"
            if description.count() or approved.suggested_commitments:
                assert approved.suggested_commitments[0]["description"] == "每两周一次直播带货指导"
        # Keyboard: R first goes to the reason (none is chosen for the coordinator), R again rejects with
        # the chosen one, N skips.
        page.locator("body").click(position={"x": 5, "y": 5})
        second_id = int(page.url.rsplit("/", 1)[1].split("?")[0])
        page.keyboard.press("r")
        expect(page.locator("#reason_code")).to_be_focused()
        with live.sessions() as s:
            assert s.get(Match, second_id).status == "proposed"
        page.locator("#reason_code").select_option("too_far")
        page.locator("body").click(position={"x": 5, "y": 5})
        page.keyboard.press("r")
        expect(page.get_by_role("status")).to_contain_text(f"已拒绝推荐 #{second_id}")
        with live.sessions() as s:
            rejected = s.get(Match, second_id)
            assert rejected.status == "rejected" and rejected.reason_code == "too_far"
        third_id = int(page.url.rsplit("/", 1)[1].split("?")[0])
        page.keyboard.press("n")
        expect(page).not_to_have_url(re.compile(rf"/proposals/{third_id}\b"))
        expect(page).to_have_url(re.compile(r"/console/proposals/\d+"))
        with live.sessions() as s:
            assert s.get(Match, third_id).status == "proposed"

    def test_stale_approval_says_someone_else_decided(self, open_page, live, jiangsu_run):
        first = open_page("coord-jiangsu")
        first.goto("/console/proposals")
        first.locator("table.queue tbody tr a").first.click()
        first.wait_for_url(PROPOSAL_PAGE)  # the click only starts the navigation
        url = first.url
        proposal_id = int(url.rsplit("/", 1)[1].split("?")[0])
        second = first.context.new_page()
        second.goto(url)
        second.locator("#reason_code").select_option("same_market")
        second.get_by_role("button", name=re.compile("拒绝")).click()
        expect(second.get_by_role("status")).to_contain_text("已拒绝推荐")
        first.get_by_role("button", name=re.compile("批准")).click()
        expect(first.locator("#stale")).to_contain_text("已被他人处理")
        expect(first.locator("#stale")).to_contain_text("已拒绝")
        shoot(first, "proposal-stale")
        with live.sessions() as s:
            assert s.get(Match, proposal_id).status == "rejected"

    def test_csrf_refusal(self, open_page, live, jiangsu_run):
        page = open_page("coord-jiangsu")
        page.goto("/console/proposals")
        page.locator("table.queue tbody tr a").first.click()
        page.wait_for_url(PROPOSAL_PAGE)  # the click only starts the navigation
        proposal_id = int(page.url.rsplit("/", 1)[1].split("?")[0])
        page.evaluate("document.querySelector('#approve-form input[name=csrftoken]').value = 'forged'")
        page.get_by_role("button", name=re.compile("批准")).click()
        expect(page.locator("h1")).to_contain_text("表单已过期或来源不明")
        with live.sessions() as s:
            assert s.get(Match, proposal_id).status == "proposed"

    def test_start_a_run_and_watch_it_finish(self, open_page, live):
        page = open_page("coord-yunnan")
        page.goto("/console/runs")
        page.get_by_label("范围（区划代码）").fill("53")
        page.get_by_label("跨区要求").select_option("prefecture")
        page.get_by_label("每位新农人候选数 k").fill("3")
        page.get_by_role("button", name="开始匹配").click()
        expect(page).to_have_url(re.compile(r"/console/runs/\d+$"))
        # The page polls a JSON endpoint and shows the evaluation once the worker is done.
        expect(page.locator("#evaluation")).to_be_visible(timeout=WAIT_MS * 2)
        expect(page.locator("[data-metric=coverage]")).not_to_have_text("")
        shoot(page, "run")
        run_id = int(page.url.rsplit("/", 1)[1])
        with live.sessions() as s:
            run = s.get(MatchingRun, run_id)
            assert run.status == "done" and run.policy["separation"] == "prefecture" and run.policy["k"] == 3

    def test_run_outside_the_jurisdiction_is_refused_in_words(self, open_page):
        page = open_page("coord-yunnan")
        page.goto("/console/runs")
        page.get_by_label("范围（区划代码）").fill("32")
        page.get_by_role("button", name="开始匹配").click()
        expect(page.get_by_role("alert")).to_contain_text("地区不在您的管辖范围内")

    def test_match_timeline_accept_and_check_in_on_behalf(self, open_page, live, jiangsu_run):
        # A pair of roster profiles (no accounts): only they are accepted for and checked in for by a
        # coordinator. The queue's first pair may be the demo's own accounts, whose apps answer.
        with live.sessions() as s:
            match_id = s.scalar(
                select(Match.id)
                .join(Mentor, Mentor.id == Match.mentor_id)
                .join(Newcomer, Newcomer.id == Match.newcomer_id)
                .where(
                    Match.run_id == jiangsu_run,
                    Match.status == "proposed",
                    Mentor.account_id.is_(None),
                    Newcomer.account_id.is_(None),
                )
                .order_by(Match.id)
                .limit(1)
            )
        page = open_page("coord-jiangsu")
        page.goto(f"/console/proposals/{match_id}")
        page.get_by_role("button", name=re.compile("批准")).click()
        expect(page.get_by_role("status")).to_contain_text("已批准推荐")
        page.goto(f"/console/matches/{match_id}")
        page.locator("#accept-mentor").click()
        page.locator("#accept-newcomer").click()
        expect(page.locator("#match-status")).to_have_text("进行中")
        expect(page.locator("#timeline li")).to_have_count(2)  # approved, then active
        # The service's own reason in words, not the English it is stored as.
        expect(page.locator("#timeline li").nth(1)).to_contain_text("双方均已接受")
        page.get_by_label("结果").select_option("partial")
        page.get_by_label("备注").fill("电话回访：已完成第一次直播")
        page.get_by_role("button", name="提交").click()
        expect(page.locator("#check-ins")).to_contain_text("电话回访")
        expect(page.locator("#saved")).to_have_text("打卡已记录。")
        # The same party again in the same period: the page says the first report was replaced.
        page.get_by_label("结果").select_option("done")
        page.get_by_label("备注").fill("电话回访：第二次直播也完成了")
        page.get_by_role("button", name="提交").click()
        expect(page.locator("#saved")).to_contain_text("替换")
        expect(page.locator("#check-ins")).to_contain_text("第二次直播")
        shoot(page, "match")
        page.goto("/console/matches?status=active")
        expect(page.get_by_role("link", name=f"#{match_id}")).to_be_visible()

    def test_flows_show_the_pairs(self, open_page, live, jiangsu_run):
        page = open_page("coord-jiangsu")
        page.goto("/console/flows")
        expect(page.locator("#flows-form")).to_be_visible()
        with live.sessions() as s:
            # The flows report's definition: matches activated in the range (by default the last 365
            # days) whose newcomer or mentor is in the jurisdiction. The match accepted above is one.
            since = china_today() - timedelta(days=DEFAULT_RANGE_DAYS - 1)
            flows = s.scalar(
                select(func.count())
                .select_from(MatchOutcome)
                .where(
                    MatchOutcome.activated_on >= since,
                    or_(
                        MatchOutcome.newcomer_county_code.startswith("32"),
                        MatchOutcome.mentor_county_code.startswith("32"),
                    ),
                )
            )
        assert flows > 0
        cells = page.locator("#flow-matrix td.num").all_inner_texts()
        assert sum(int(c) for c in cells if c.strip()) == flows
        # Match rate by quintile: at most five tiers, and every matched newcomer is counted in one.
        tiers = page.locator("#quintiles tbody tr")
        assert 1 <= tiers.count() <= 5
        matched = [int(t) for t in page.locator("#quintiles tbody td.num:nth-child(3)").all_inner_texts()]
        assert 0 < sum(matched) <= flows
        expect(page.locator("#definitions li").first).to_be_visible()
        shoot(page, "flows")


class TestTownshipOffice:
    def test_messy_roster_from_upload_to_applied_with_errors_downloaded(self, open_page, live):
        page = open_page("office-zhaxia")
        page.goto("/console/office/imports")
        page.get_by_label("文件（CSV、XLSX、XLS 或 ODS）").set_input_files(str(SAMPLE_ROSTER))
        page.get_by_role("button", name="上传名单").click()
        expect(page.locator("#import-counts")).to_be_visible(timeout=WAIT_MS * 2)
        expect(page.locator("h1")).to_contain_text("预览报告")
        expect(page.locator("[data-count=created]")).to_have_text("3")
        expect(page.locator("[data-count=rejected]")).to_have_text("2")
        # Each error in the office's language, on its row.
        expect(page.locator("tr.outcome-rejected .issue-error").first).to_be_visible()
        assert re.search(
            r"[\u4e00-\u9fff]", page.locator("tr.outcome-rejected .issue-error").first.inner_text()
        )
        shoot(page, "import-dry-run")
        page.get_by_role("button", name="确认导入").click()
        expect(page.locator("h1")).to_contain_text("导入结果", timeout=WAIT_MS)
        expect(page.locator("#import-counts")).to_be_visible(timeout=WAIT_MS * 2)
        expect(page.locator("[data-count=created]")).to_have_text("3")
        with page.expect_download() as info:
            page.locator("#errors-csv").click()
        text = Path(info.value.path()).read_bytes().decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text)))
        assert len(rows) == 3  # header + the two rejected rows
        assert any("外乡苗圃" in cell for row in rows for cell in row)
        shoot(page, "import-applied")
        with live.sessions() as s:
            applied = s.scalar(select(RosterImport).where(RosterImport.dry_run.is_(False)))
            assert applied.created_count == 3 and applied.rejected_count == 2
        # The roster now has them; search, then a seller's page.
        page.goto("/console/office/roster")
        page.get_by_label("搜索").fill("多肉")
        page.get_by_role("button", name="搜索").click()
        expect(page.locator("table tbody tr").first).to_contain_text("扎下镇")  # a place's name, not its code
        page.get_by_role("link", name="小周多肉园").click()
        expect(page.locator("h1")).to_have_text("小周多肉园")
        # The place and the products in words, not codes.
        expect(page.locator("dl")).to_contain_text("江苏省宿迁市沭阳县扎下镇")
        expect(page.locator("dl")).not_to_contain_text("321322115")
        expect(page.locator("dl")).not_to_contain_text(".")
        shoot(page, "seller")
        page.goto("/console/office/imports")
        expect(page.locator("table.imports tbody tr")).to_have_count(2)

    def test_an_office_cannot_reach_another_townships_pages(self, open_page, live):
        with live.sessions() as s:
            theirs = s.scalar(select(RosterImport.id).order_by(RosterImport.id))
            from app.models import Mentor

            seller = s.scalar(select(Mentor.id).where(Mentor.source_township == "321322115"))
        assert theirs and seller
        other = open_page("office-other")
        for path in (
            f"/console/office/imports/{theirs}",
            f"/console/office/imports/{theirs}/errors.csv",
            f"/console/office/sellers/{seller}",
        ):
            response = other.goto(path)
            assert response.status == 404, path
            expect(other.locator(".notice.error")).to_contain_text("不在您的管辖范围内")
        response = other.goto("/console/proposals")
        assert response.status == 403


class TestAdmin:
    def test_accounts_and_jobs(self, open_page, live):
        page = open_page("admin")
        page.goto("/console/admin/accounts")
        page.get_by_label("用户名").fill("coord-new")
        page.get_by_label("显示名").fill("新协调员")
        page.get_by_label("角色").select_option("coordinator")
        page.get_by_label("管辖区").fill("3213")
        page.locator("#a-pw").fill("a-long-password")
        page.get_by_role("button", name="创建工作人员账户").click()
        expect(page.locator("tr[data-account='coord-new']")).to_contain_text("3213")
        row = page.locator("tr[data-account='coord-new']")
        row.locator("input[type=password]").fill("another-password")
        row.get_by_role("button", name="重置密码").click()
        expect(page.get_by_role("status")).to_contain_text("已保存")
        shoot(page, "accounts")
        fresh = page.context.browser.new_context(base_url=live.url)
        try:
            sign_in(fresh.new_page(), "coord-new", "another-password")
        finally:
            fresh.close()
        page.goto("/console/admin/jobs")
        expect(page.locator("#jobs tbody tr").first).to_be_visible()
        expect(page.locator("#jobs tbody")).not_to_contain_text(
            "_"
        )  # kinds in words: 名单导入, not roster_import
        shoot(page, "jobs")


class TestLanguageAndPhone:
    def test_english_switch(self, open_page, live, jiangsu_run):
        page = open_page("coord-jiangsu")
        page.get_by_role("link", name="English").click()
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.get_by_role("navigation")).to_contain_text("Review queue")
        page.goto("/console/proposals")
        page.locator("table.queue tbody tr a").first.click()
        expect(page.get_by_role("button", name=re.compile("Approve"))).to_be_visible()
        shoot(page, "proposal-en")
        page.get_by_role("link", name="中文").click()
        expect(page.locator("html")).to_have_attribute("lang", "zh-CN")

    @pytest.mark.parametrize(
        "path", ["/console", "/console/proposals", "/console/runs", "/console/flows", "/console/matches"]
    )
    def test_coordinator_pages_fit_a_phone(self, open_page, live, jiangsu_run, path):
        page = open_page("coord-jiangsu", viewport=PHONE)
        page.goto(path)
        assert no_horizontal_scroll(page), path
        shoot(page, f"phone{path.replace('/', '-')}")

    def test_proposal_fits_a_phone(self, open_page, live, jiangsu_run):
        page = open_page("coord-jiangsu", viewport=PHONE)
        page.goto("/console/proposals")
        page.locator("table.queue tbody tr a").first.click()
        # The click starts a navigation: measure the proposal page once it has loaded, not the queue mid-way.
        page.wait_for_url(PROPOSAL_PAGE)
        page.wait_for_load_state()
        assert no_horizontal_scroll(page)
        shoot(page, "phone-proposal")

    def test_english_pages_fit_a_phone(self, open_page, live, jiangsu_run):
        """English words are longer: reasons, run settings and the quintile table wrap or scroll in place."""
        page = open_page("coord-jiangsu", viewport=PHONE)
        page.goto("/console/lang/en?next=/console")
        page.goto("/console/proposals")
        proposal = page.locator("table.queue tbody tr a").first.get_attribute("href")
        with live.sessions() as s:
            run_id = s.scalar(select(func.max(MatchingRun.id)))
        for path in (proposal, "/console/flows", f"/console/runs/{run_id}"):
            page.goto(path)
            assert no_horizontal_scroll(page), path
        shoot(page, "phone-run-en")

    def test_admin_pages_fit_a_phone(self, open_page, live):
        """Hidden labels inside a scrolling table stay inside it (they widened the accounts page)."""
        page = open_page("admin", viewport=PHONE)
        for lang in ("zh-CN", "en"):
            page.goto(f"/console/lang/{lang}?next=/console")
            for path in ("/console/admin/accounts", "/console/admin/jobs"):
                page.goto(path)
                assert no_horizontal_scroll(page), (lang, path)
        shoot(page, "phone-jobs-en")

    def test_office_pages_fit_a_phone(self, open_page, live):
        page = open_page("office-zhaxia", viewport=PHONE)
        for path in ("/console/office/imports", "/console/office/roster"):
            page.goto(path)
            assert no_horizontal_scroll(page), path
        shoot(page, "phone-roster")
