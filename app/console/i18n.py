"""The console's own words in zh-CN (default) and English; problem titles come from app.i18n."""

from __future__ import annotations

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.requests import Request

from app.errors import AppError
from app.i18n import Lang, title_for, validation_message

LANG_COOKIE = "jd_lang"

WORDS: dict[str, tuple[str, str]] = {
    "app_name": ("结对 · 工作台", "Jieduan console"),
    "skip": ("跳到正文", "Skip to content"),
    "sign_in": ("登录", "Sign in"),
    "sign_out": ("退出登录", "Sign out"),
    "username": ("用户名", "Username"),
    "username_hint": (
        "用户名为 3–64 位英文字母、数字或 _ . -，至少含一个字母（登录时使用）",
        "A username is 3–64 letters, digits, _ . or -, with at least one letter (used to sign in)",
    ),
    "password": ("密码", "Password"),
    "switch_lang": ("English", "中文"),
    "staff_only": (
        "工作台仅供协调员、乡镇办和管理员使用。导师和新农人请使用手机应用。",
        "The console is for coordinators, township offices and admins. Mentors and newcomers, please "
        "use the mobile app.",
    ),
    "signed_out": ("您已退出登录。", "You are signed out."),
    "retry_in": ("（请 {s} 秒后再试）", " (try again in {s} seconds)"),
    "session_ended_unsaved": (
        "登录已失效，刚才提交的内容没有保存。请重新登录，回到原页面后再提交一次。",
        "Your session had ended, so what you just sent was not saved. Sign in again, then send it once more "
        "from the page you were on.",
    ),
    "home": ("首页", "Home"),
    "review": ("审核队列", "Review queue"),
    "runs": ("匹配任务", "Matching runs"),
    "matches": ("结对", "Matches"),
    # Page titles: the tab already ends with the console's name, 结对 · 工作台.
    "matches_title": ("结对列表", "Matches"),
    "match_title": ("结对详情", "Match"),
    "flows": ("流向", "Flows"),
    "imports": ("名单导入", "Roster imports"),
    "roster": ("本镇名单", "Roster"),
    "roster_all": ("卖家名单（全部乡镇）", "Sellers (every township)"),
    "no_imports": (
        "还没有导入。上传一个名单文件后，预览和导入记录会列在这里。",
        "No imports yet: upload a roster and its preview shows here.",
    ),
    "accounts": ("账户", "Accounts"),
    "jobs": ("后台任务", "Jobs"),
    "api_docs": ("接口文档", "API docs"),
    "pending": ("待审核推荐", "Pending proposals"),
    "runs_active": ("进行中的匹配任务", "Running matching runs"),
    "runs_done": ("已完成的匹配任务", "Finished matching runs"),
    "overdue": ("逾期承诺", "Overdue commitments"),
    "awaiting": ("待双方确认的结对", "Matches awaiting the parties"),
    "roster_size": ("本镇导师", "Mentors in the township"),
    "imports_recent": ("导入记录", "Imports"),
    "county": ("县（区划代码前缀）", "County (region code prefix)"),
    "category": ("产品类别", "Product category"),
    "any": ("全部", "Any"),
    "min_score": ("最低分", "Minimum score"),
    "max_distance": ("最远距离（公里）", "Maximum distance (km)"),
    "run": ("匹配任务编号", "Run id"),
    "filter": ("筛选", "Filter"),
    "score": ("得分", "Score"),
    "distance": ("距离", "Distance"),
    "newcomer": ("新农人", "Newcomer"),
    "mentor": ("导师", "Mentor"),
    "open": ("查看", "Open"),
    "next_page": ("下一页", "Next page"),
    "first_page": ("第一页", "First page"),
    "empty_queue": ("队列已清空。", "The queue is empty."),
    "empty_filtered_queue": (
        "没有符合这些筛选条件的待审核推荐（筛选只在您的辖区内查找）。",
        "No pending proposal matches these filters (they search only your jurisdiction).",
    ),
    "clear_filters": ("清除筛选", "Clear the filters"),
    "no_runs_yet": (
        "还没有匹配运行：用上面的表单开始第一次。",
        "No matching run yet: start the first with the form above.",
    ),
    "proposal": ("推荐", "Proposal"),
    "reasons": ("推荐理由", "Reasons"),
    "score_parts": ("得分构成", "Score parts"),
    "explored": (
        "探索推荐：从该新农人的候选池中随机抽取（非首选），帮助模型学习它不会主动选择的配对。抽取概率",
        "Exploration: drawn at random from the newcomer's pool (not the top choice), so the model also "
        "learns from pairs it would not choose. Draw probability",
    ),
    "commitments": ("资源共享承诺", "Commitments"),
    "resource_type": ("资源类型", "Resource type"),
    "area": ("协作领域", "Area"),
    "description": ("说明", "Description"),
    "cadence_days": ("频率（天）", "Cadence (days)"),
    "note": ("备注", "Note"),
    "approve": ("批准", "Approve"),
    "reject": ("拒绝", "Reject"),
    "reason_code": ("拒绝原因", "Reason"),
    "choose_reason": ("— 请选择原因 —", "— choose a reason —"),
    "choose_reason_first": (
        "请先选择拒绝原因，再按 R 或“拒绝”",
        "Choose the reason first, then press R or Reject",
    ),
    "confirm_deactivate": (
        "停用后该账户立即无法登录和调用接口。确定停用",
        "Deactivated, the account can no longer sign in or call the API. Deactivate",
    ),
    "confirm_revoke": (
        "撤销后证书验证码立即失效，荣誉从导师资料中移除。确定撤销荣誉",
        "Revoked, the certificate's code stops verifying and the title leaves the profile. Revoke honour",
    ),
    "next": ("下一条", "Next"),
    "shortcuts": (
        "快捷键：A 批准 · R 拒绝（先选原因）· N 下一条",
        "Shortcuts: A approve · R reject (once a reason is chosen) · N next",
    ),
    "commitment_required": (
        "至少保留一项资源分享承诺（填写说明）；不想改动建议时请保留原文。",
        "Keep at least one commitment (with a description); leave the suggestions as they are to keep them.",
    ),
    "decided_elsewhere": (
        "这条推荐已被他人处理（或已变更），未做任何修改。当前状态：",
        "Someone else decided this proposal first (or it changed); nothing was changed. Its status now: ",
    ),
    "approved_msg": ("已批准推荐", "Approved proposal"),
    "rejected_msg": ("已拒绝推荐", "Rejected proposal"),
    "end_of_queue": ("此筛选条件下没有更多待审推荐", "No more pending proposals with these filters"),
    "region": ("地区", "Region"),
    "products": ("产品", "Products"),
    "channels": ("渠道", "Channels"),
    "resources_offered": ("可提供资源", "Resources offered"),
    "resources_needed": ("需要的资源", "Resources needed"),
    "capacity_left": ("剩余名额", "Seats left"),
    "track_record": ("过往表现", "Track record"),
    "fulfilment": ("承诺履约率", "Commitment fulfilment"),
    "past_matches": ("结对次数", "Matches so far"),
    "years_selling": ("从业年限", "Years selling"),
    "honours": ("荣誉", "Honours"),
    "phone": ("电话", "Phone"),
    "status": ("状态", "Status"),
    "start_run": ("开始匹配", "Start a run"),
    "scope_code": ("范围（区划代码）", "Scope (region code)"),
    "scope": ("范围", "Scope"),
    "separation": ("跨区要求", "Separation"),
    "sep_county": ("不同县", "Different county"),
    "sep_prefecture": ("不同地级市", "Different prefecture"),
    "sep_province": ("不同省", "Different province"),
    "k": ("每位新农人候选数 k", "Candidates per newcomer k"),
    "pairing_mode": ("同品同市", "Same product, same prefecture"),
    "mode_penalise": ("降权", "Penalise"),
    "mode_exclude": ("排除", "Exclude"),
    "model_version": ("评分模型", "Model"),
    "model_rules": ("规则权重", "Rule weights"),
    "model_learned": ("当前启用的学习模型", "Active learned model"),
    "pairing": ("产品关系", "Product relation"),
    "pairing_any": ("按得分", "By score"),
    "pairing_same_trade": ("同行业", "Same trade"),
    "pairing_chain": ("产业链上下游", "Along the chain"),
    "pairing_mixed": ("混合", "Mixed"),
    "no_limit": ("不限", "No limit"),
    "run_settings": ("匹配设置", "Settings"),
    "pinned_model": ("指定模型版本", "Pinned model version"),
    "chain_share": ("产业链结对占比", "Share of chain pairs"),
    "exploration": ("探索比例（标记为探索的推荐）", "Exploration (flagged proposals)"),
    "count_mentors": ("导师", "mentors"),
    "count_newcomers": ("新农人", "newcomers"),
    "count_proposals": ("推荐", "proposals"),
    "count_superseded": ("被替换的旧推荐", "older proposals superseded"),
    "count_dropped_stale": ("计算期间已变更而放弃", "dropped as changed meanwhile"),
    "count_excluded_pairs": ("排除的配对", "pairs excluded"),
    "count_cluster_workers": ("集群节点", "cluster workers"),
    "progress": ("进度", "Progress"),
    "cancel_run": ("取消此任务", "Cancel this run"),
    "run_cancelled": ("此任务已取消，未写入任何推荐。", "This run was cancelled; it wrote no proposals."),
    "evaluation": ("评估", "Evaluation"),
    "coverage": ("覆盖率", "Coverage"),
    "equity_ratio": ("公平比", "Equity ratio"),
    "cross_county_share": ("跨县比例", "Cross-county share"),
    "cross_prefecture_share": ("跨市比例", "Cross-prefecture share"),
    "cross_province_share": ("跨省比例", "Cross-province share"),
    "complementary_share": ("互补比例", "Complementary share"),
    "same_product_share": ("同品比例", "Same-product share"),
    "mean_score": ("平均分", "Mean score"),
    "counts": ("数量", "Counts"),
    "created": ("创建时间（北京时间）", "Created (Beijing time)"),
    "times_beijing": ("时间均为北京时间", "Times are Beijing time (UTC+8)"),
    "timeline": ("时间线", "Timeline"),
    "check_ins": ("打卡记录", "Check-ins"),
    "report_check_in": ("代为打卡", "Report a check-in"),
    "on_behalf_of": ("代表", "On behalf of"),
    "outcome": ("结果", "Outcome"),
    "outcome_done": ("已完成", "Done"),
    "outcome_partial": ("部分完成", "Partial"),
    "outcome_missed": ("未完成", "Missed"),
    "accept_for": ("代为接受", "Accept on behalf of"),
    "acceptance": ("双方接受", "Acceptance"),
    "accepted_already": ("已接受", "accepted"),
    "accepts_in_app": ("有账号，须本人在手机应用中接受", "has an account: accepts in the mobile app"),
    "next_due": ("下次到期", "Next due"),
    "submit": ("提交", "Submit"),
    "flow_map": ("结对流向图", "Map of pairs"),
    "quintile": ("按县电商普及率五分位的匹配率", "Match rate by county penetration quintile"),
    "quintile_n": ("五分位", "Quintile"),
    "newcomers_n": ("新农人数", "Newcomers"),
    "matched_n": ("已结对", "Matched"),
    "match_rate": ("匹配率", "Match rate"),
    "upload": ("上传名单", "Upload a roster"),
    "file": ("文件（CSV、XLSX、XLS 或 ODS）", "File (CSV, XLSX, XLS or ODS)"),
    "on_error": ("遇到错误行", "On a bad row"),
    "skip_row": ("跳过该行", "Skip the row"),
    "reject_file": ("整个文件不导入", "Reject the whole file"),
    "township": ("乡镇代码", "Township code"),
    "dry_run_report": ("预览报告（尚未写入）", "Dry-run report (nothing written yet)"),
    "applied_report": ("导入结果", "Import result"),
    "applied_preview_report": ("预览报告（已确认导入）", "Dry-run report (since applied)"),
    "sheet": ("工作表（选填）", "Worksheet (optional)"),
    "sheet_hint": (
        "Excel 工作簿中名单所在工作表的名称，如“名单”；不填则读第一个有内容的工作表，CSV 文件不填",
        "the name of the roster's sheet in an Excel workbook, e.g. 名单; empty: the first sheet with data; "
        "leave empty for a CSV file",
    ),
    "preview_pending": ("预览 · 尚未写入", "dry run · nothing written"),
    "preview_applied": ("预览 · 已确认导入", "dry run · applied"),
    "unknown_columns": (
        "以下列未能识别，已忽略（请对照模板检查表头）",
        "These columns were not recognised and were ignored (check the headers against the template)",
    ),
    "apply": ("确认导入", "Apply"),
    "applied_as": ("已确认导入，查看结果", "Applied: see the import"),
    "download_errors": ("下载错误报告 errors.csv", "Download errors.csv"),
    "row": ("行", "Row"),
    "errors": ("错误", "Errors"),
    "rows": ("行结果", "Rows"),
    "filename": ("文件名", "File"),
    "working": ("处理中…", "Working…"),
    "search": ("搜索", "Search"),
    "name": ("名称", "Name"),
    "kind": ("类型", "Kind"),
    "role": ("角色", "Role"),
    "jurisdiction": ("管辖区", "Jurisdiction"),
    "display_name": ("显示名", "Display name"),
    "active": ("启用", "Active"),
    "create_account": ("创建工作人员账户", "Create a staff account"),
    "deactivate": ("停用", "Deactivate"),
    "reactivate": ("重新启用", "Reactivate"),
    "reset_password": ("重置密码", "Reset password"),
    "new_password": ("新密码", "New password"),
    "saved": ("已保存。", "Saved."),
    "check_in_saved": ("打卡已记录。", "Check-in recorded."),
    "check_in_replaced": (
        "打卡已记录，并替换了同一方本周期先前的打卡。",
        "Check-in recorded; it replaces that party's earlier check-in for this period.",
    ),
    "kind_job": ("任务类型", "Kind"),
    "attempts": ("尝试次数", "Attempts"),
    "last_error": ("最近错误", "Last error"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "back": ("返回", "Back"),
    "error": ("出错了", "Something went wrong"),
    "back_to_page": ("返回该页面", "Back to the page"),
    "error_reference": ("供技术支持参考", "For support"),
    "not_found_page": ("页面不存在，或不在您的管辖范围内。", "Not found, or outside your jurisdiction."),
    "reports": ("报表", "Reports"),
    "reports_intro": (
        "按您的辖区统计：谁得到了帮助、新农人多快卖出第一单、哪些导师和结对方式最有效、缺口在哪里。"
        "每张报表都可选时间范围并下载 XLSX 或 CSV。",
        "For your jurisdiction: who was helped, how fast newcomers reached a first sale, which mentors and "
        "pairing types work best, and where the gaps are. Each report takes a date range and downloads as "
        "XLSX or CSV.",
    ),
    "q_reach": (
        "谁得到了帮助？按县、导师或省统计覆盖的新农人。",
        "Who was helped? Newcomers reached by county, mentor or province.",
    ),
    "q_fulfilment": ("资源共享承诺兑现了多少？", "Were the resource-sharing commitments kept?"),
    "q_outcomes": (
        "新农人多快卖出第一单？哪些导师、地区和结对方式最有效？",
        "How fast did newcomers reach a first sale? Which mentors, regions and pairing types work best?",
    ),
    "q_flows": ("导师与新农人在哪些省之间结对？", "Between which provinces do the pairs run?"),
    "q_gaps": (
        "哪里有新农人在等、却没有进行中的结对？哪里没有导师？",
        "Where do newcomers wait with no active match, and where is there no mentor?",
    ),
    "q_equity": (
        "电商最薄弱的县是否得到了公平的份额？",
        "Do the least-served counties get their fair share?",
    ),
    "q_homogenisation": (
        "哪些县有太多新农人做同一种产品（价格战风险）？",
        "Where do too many newcomers sell one product (the price-war risk)?",
    ),
    "date_from": ("起始日期", "From"),
    "date_to": ("截止日期", "To"),
    "group_by": ("分组", "Group by"),
    "by_county": ("按县", "By county"),
    "by_mentor": ("按导师", "By mentor"),
    "by_province": ("按省", "By province"),
    "by_pairing": ("按结对类型", "By pairing type"),
    "region_inside": ("辖区内地区（区划代码，可选）", "Region inside your jurisdiction (code, optional)"),
    "show": ("查看", "Show"),
    "download_xlsx": ("下载 XLSX", "Download XLSX"),
    "download_csv": ("下载 CSV", "Download CSV"),
    "definitions": ("口径说明", "Definitions"),
    "table": ("明细", "Table"),
    "chart_note": (
        "图中为按第一项从大到小的前 15 项；完整数据见下表和下载文件。",
        "The charts show the first 15 by the first figure, largest first; the table and the downloads "
        "have them all.",
    ),
    "rows_cut": (
        "页面只显示前 300 行，全部数据请下载 XLSX 或 CSV。总行数：",
        "The page shows the first 300 rows; download XLSX or CSV for all of them. Rows in all: ",
    ),
    "nationwide": ("全国", "Nationwide"),
    "no_rows": ("该范围内没有数据。", "No data in this range."),
    "flow_map_link": ("在地图上查看（同一时间范围）", "See it on the map (the same range)"),
    "flows_report_link": ("流向报表", "The flows report"),
    "flow_report_matrix": (
        "流向矩阵（行：导师所在省，列：新农人所在省）",
        "Flow matrix (rows: mentors' province, columns: newcomers' province)",
    ),
    "evaluate": ("评定荣誉", "Evaluate honours"),
    "period_start": ("评定期起", "Period from"),
    "period_end": ("评定期止", "Period to"),
    "region_optional": ("地区（区划代码，默认您的辖区）", "Region (code; your jurisdiction by default)"),
    "rules": ("评定规则", "Rules"),
    "rules_version": ("规则版本", "Rules version"),
    "honour": ("荣誉", "Honour"),
    "period": ("评定期", "Period"),
    "evidence": ("依据", "Evidence"),
    "verification_code": ("验证码", "Verification code"),
    "confirm": ("确认", "Confirm"),
    "revoke": ("撤销", "Revoke"),
    "certificate": ("证书 PDF", "Certificate PDF"),
    "verify_page": ("公开核验页", "Public verification page"),
    "confirmed_msg": ("已确认荣誉", "Confirmed honour"),
    "revoked_msg": ("已撤销荣誉", "Revoked honour"),
    "evaluated_msg": ("本次新提出的荣誉数：", "Honours proposed now: "),
    "evaluated_none": (
        "（没有导师达到标准，或本管辖区已就重叠的期间评定过同一荣誉，含已撤销的）",
        "(no mentor met a rule, or this jurisdiction already judged the same honour for an overlapping "
        "period, revoked ones included)",
    ),
    "no_honours": ("没有符合条件的荣誉。", "No honours here."),
    "actions": ("操作", "Actions"),
}


def console_language(request: Request) -> Lang:
    """zh-CN unless the user switched to English (a cookie set by the language switch)."""
    return "en" if request.cookies.get(LANG_COOKIE) == "en" else "zh-CN"


def word(key: str, lang: Lang) -> str:
    """One console word in one language (the key itself if it is missing, so a gap shows)."""
    zh, en = WORDS.get(key, (key, key))
    return zh if lang == "zh-CN" else en


def error_text(exc: AppError, lang: Lang) -> str:
    """A refused action in words: the problem's title and its detail, in one language."""
    title = title_for(exc.code, exc.status, lang)
    detail = exc.detail[0 if lang == "zh-CN" else 1] if isinstance(exc.detail, tuple) else exc.detail
    if not detail:
        return title
    if detail.casefold().startswith(title.rstrip("。.").casefold()):
        return detail  # a detail that restates the title ("The file is empty") says it once
    return f"{title}：{detail}" if lang == "zh-CN" else f"{title}: {detail}"


# A request field whose label on the form has another key (the form says 最远距离, the body max_distance_km).
_FIELD_WORDS = {"max_distance_km": "max_distance", "jurisdiction_code": "jurisdiction"}


# Where a framework-checked value came from: not part of the field's name on the page.
_SOURCES = frozenset({"body", "query", "path", "header", "cookie"})


def form_error_text(exc: ValidationError | RequestValidationError, lang: Lang) -> str:
    """A form the API's body model refused, in the page's language: each field as the form labels it.

    The API's 422 names fields by their JSON path (commitments.0.description, and pydantic's English);
    a coordinator reads 「承诺 1 · 说明：最多 500 个字符」.
    """
    colon, semicolon = ("：", "；") if lang == "zh-CN" else (": ", "; ")
    parts = []
    for error in exc.errors():
        loc = tuple(error.get("loc", ()))
        if isinstance(exc, RequestValidationError) and loc[:1] and loc[0] in _SOURCES:
            loc = loc[1:]
        # A list position counts from 1 on the page (the second commitment is 2, not 1).
        where = " · ".join(
            str(step + 1) if isinstance(step, int) else word(_FIELD_WORDS.get(step, step), lang)
            for step in loc
        )
        why = validation_message(error, lang)
        parts.append(f"{where}{colon}{why}" if where else why)
    return semicolon.join(parts)
