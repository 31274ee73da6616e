"""The error catalogue: a zh-CN and an en title for every problem code, and 422 messages in both.

zh-CN by default, English when the client prefers it (Accept-Language). Every code an AppError is
raised with must have its title here; a test walks the code base for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

Lang = Literal["zh-CN", "en"]

TITLES: dict[str, tuple[str, str]] = {
    "bad_request": ("请求有误", "Bad request"),
    "unauthorized": ("需要登录", "Authentication required"),
    "invalid_credentials": ("用户名或密码错误", "Invalid username or password"),
    "invalid_token": ("令牌无效或已过期", "Invalid or expired token"),
    "refresh_token_reused": ("刷新令牌已被使用，请重新登录", "Refresh token already used; log in again"),
    "account_inactive": ("账户已停用", "Account is deactivated"),
    "login_ended": (
        "此次登录已失效（密码已重置或账户曾被停用），请重新登录",
        "This sign-in has ended (password reset or account deactivated); sign in again",
    ),
    "forbidden": ("无权执行此操作", "Not allowed"),
    "not_found": ("未找到", "Not found"),
    "method_not_allowed": ("不支持该请求方法", "Method not allowed"),
    "body_unreadable": ("请求体不是有效的 JSON", "The body is not valid JSON"),
    "not_acceptable": ("无法提供所需格式", "Not acceptable"),
    "conflict": ("状态冲突", "Conflict"),
    "already_exists": ("已存在", "Already exists"),
    "profile_exists": ("该账户已有资料", "This account already has a profile"),
    "duplicate_profile": ("同一个人已有资料", "This person already has a profile"),
    "body_not_expected": ("不接受请求体", "No request body expected"),
    "precondition_failed": ("资料已被他人修改，请刷新后重试", "The resource changed; reload and retry"),
    "precondition_required": ("缺少 If-Match 请求头", "If-Match header required"),
    "payload_too_large": ("请求体过大", "Payload too large"),
    "file_too_large": ("文件过大", "File too large"),
    # Refused on upload from the file's first bytes (imports.service.refuse_unreadable).
    "file_empty": ("文件为空", "The file is empty"),
    "not_a_roster": ("文件不是名单表格", "The file is not a roster spreadsheet"),
    "xlsx_corrupt": ("Excel 文件已损坏", "Damaged Excel file"),
    "unsupported_media_type": ("不支持的内容类型", "Unsupported media type"),
    "unprocessable": ("无法处理的请求", "Unprocessable request"),
    "validation_failed": ("请求参数校验失败", "Request validation failed"),
    "region_not_found": ("行政区划代码不存在", "Unknown region code"),
    "region_outside_jurisdiction": ("地区不在您的管辖范围内", "Region outside your jurisdiction"),
    "region_too_coarse": ("地区至少需精确到县级", "Region must be at least a county"),
    "unknown_category": ("未知的产品类别", "Unknown product category"),
    "sheet_not_in_csv": ("CSV 文件没有工作表", "A CSV file has no worksheets"),
    "cannot_deactivate_self": ("不能停用自己的账号", "You cannot deactivate your own account"),
    "page_not_for_role": ("此页面不属于您的角色", "Not a page for your role"),
    "honour_not_held": ("该荣誉须由平台授予", "The honour is awarded by the service"),
    "invalid_cursor": ("分页游标无效", "Invalid pagination cursor"),
    "unknown_query_parameter": ("未知的查询参数", "Unknown query parameter"),
    "unknown_filter_value": ("筛选值无效", "Unknown filter value"),
    "too_many_requests": ("请求过于频繁，请稍后再试", "Too many requests; try again later"),
    "login_throttled": ("登录失败次数过多，请稍后再试", "Too many failed logins; try again later"),
    "weak_password": ("密码不符合安全要求", "Password does not meet the policy"),
    "jurisdiction_not_allowed": ("该账户不设管辖区", "This account has no jurisdiction"),
    "internal_error": ("服务器内部错误", "Internal server error"),
    "not_a_finished_preview": ("只能确认已完成的预览", "Only a finished dry run can be applied"),
    "csrf_failed": (
        "表单已过期或来源不明，请刷新页面后重试",
        "The form expired or came from elsewhere; reload and retry",
    ),
    "http_error": ("请求失败", "Request failed"),
    "capacity_below_used": ("带徒名额不能少于已占用的名额", "Capacity is below the seats in use"),
    "idempotency_key_reused": ("该幂等键已用于另一个请求", "Idempotency-Key reused for another request"),
    "invalid_transition": ("当前状态不允许此操作", "Not allowed in the current state"),
    "last_admin": ("不能停用最后一个在用的管理员", "The last active admin cannot be deactivated"),
    "match_not_active": ("结对尚未生效或已结束", "The match is not active"),
    "mentor_capacity_full": ("该导师的带徒名额已满", "This mentor has no seat left"),
    "mentor_inactive": ("导师已停用", "Mentor deactivated"),
    "newcomer_inactive": ("新农人已停用", "Newcomer deactivated"),
    "party_moved": ("结对一方已迁往别的县", "A party has moved to another county"),
    "newcomer_already_matched": ("该新农人已有在带的导师", "This newcomer already has a mentor"),
    "no_trained_model": ("尚无训练好的模型", "No ranker has been trained yet"),
    "not_enough_decisions": ("审核决定太少，无法训练模型", "Not enough decisions to train the ranker"),
    "metrics_token_required": ("读取监控指标需要令牌", "A metrics token is required"),
    "no_phone_for_sms": ("账号没有手机号，无法短信通知", "This account has no phone for SMS"),
    "office_without_township": ("乡镇账号未设置所辖乡镇", "This office account has no township"),
    "not_match_staff": ("只有负责该结对的工作人员可以代办", "Only staff of this match act for a party"),
    "party_has_account": ("该方有自己的账户，请由本人确认", "This party answers through their own account"),
    "profile_has_account": ("该资料由本人账户维护", "This profile is kept by its seller's own account"),
    "run_finished": ("匹配任务已结束，无法取消", "The matching run has already ended"),
    "run_in_progress": ("范围重叠的匹配任务尚未结束", "An overlapping matching run is still active"),
    "township_not_found": ("乡镇代码不存在", "Unknown township code"),
    # Outcomes, ratings, reports and honours.
    "match_not_started": ("结对尚未开始", "This match has not started"),
    "baseline_locked": ("已有进展记录，基线不能再改", "Milestones exist: the baseline is fixed"),
    "milestone_too_early": ("日期过早", "The date is too early"),
    "milestone_in_future": ("日期不能晚于今天", "The date is in the future"),
    "milestone_before_activation": ("日期早于结对开始", "The date is before the match began"),
    "channel_required": ("请填写开店平台", "Say on which channel the store opened"),
    "orders_required": ("请填写月订单数", "Give the orders per month"),
    "match_not_ended": ("结对结束后才能评价", "Rate a match once it has ended"),
    "already_rated": ("您已评价过该结对", "You have already rated this match"),
    "invalid_grouping": ("该报表不能这样分组", "This report cannot be grouped that way"),
    "unknown_report": ("没有这个报表", "No such report"),
    "invalid_date_range": ("起止日期不正确", "Invalid date range"),
    "period_not_over": ("评选期尚未结束", "Period not over"),
    "repeated_query_parameter": ("查询参数重复", "Repeated query parameter"),
    "unknown_form_field": ("未知的表单字段", "Unknown form field"),
    "repeated_form_field": ("表单字段重复", "Repeated form field"),
    "region_required": ("请指定地区", "Name the region"),
    "honour_not_proposed": ("该荣誉已处理", "This honour was already decided"),
    "honour_revoked": ("该荣誉已撤销", "This honour is already revoked"),
    "honour_not_confirmed": ("荣誉尚未确认或已撤销", "This honour is not confirmed"),
    "verification_throttled": ("核验过于频繁，请稍后再试", "Too many verifications; try again later"),
    "model_not_promotable": ("该版本未通过晋升检验", "This version did not pass the promotion gate"),
    "model_already_active": ("该版本已在使用", "This version is already active"),
    "no_active_model": ("没有正在使用的模型版本", "No active model version"),
}

# 422 messages by pydantic error type, in zh-CN; {name} fields come from the error's context.
VALIDATION_MESSAGES_ZH: dict[str, str] = {
    "missing": "缺少必填项",
    "extra_forbidden": "不允许的字段",
    "string_type": "应为文本",
    "string_too_short": "至少 {min_length} 个字符",
    "string_too_long": "最多 {max_length} 个字符",
    "string_pattern_mismatch": "格式不正确",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数",
    "float_type": "应为数字",
    "float_parsing": "应为数字",
    "bool_type": "应为 true 或 false",
    "bool_parsing": "应为 true 或 false",
    "greater_than": "应大于 {gt}",
    "greater_than_equal": "应大于或等于 {ge}",
    "less_than": "应小于 {lt}",
    "less_than_equal": "应小于或等于 {le}",
    "multiple_of": "应为 {multiple_of} 的倍数",
    "literal_error": "应为以下之一：{expected}",
    "enum": "应为以下之一：{expected}",
    "too_short": "至少 {min_length} 项",
    "too_long": "最多 {max_length} 项",
    "list_type": "应为列表",
    "dict_type": "应为对象",
    "model_type": "应为对象",
    "model_attributes_type": "应为对象",
    "json_invalid": "JSON 格式错误",
    "json_type": "应为 JSON",
    "date_parsing": "应为日期（YYYY-MM-DD）",
    "date_from_datetime_parsing": "应为日期（YYYY-MM-DD）",
    "datetime_parsing": "应为日期时间（ISO 8601）",
    "datetime_from_date_parsing": "应为日期时间（ISO 8601）",
    "url_parsing": "应为网址",
    "value_error": "取值无效：{error}",
    "union_tag_invalid": "类型标记无效",
    "none_required": "应为空",
}


def validation_message(error: Mapping[str, Any], lang: Lang) -> str:
    """One 422 message in the caller's language (English as pydantic words it)."""
    english = str(error.get("msg", ""))
    if lang == "en":
        return english
    said = (error.get("ctx") or {}).get("error_zh")
    if said:  # a refusal the validator words in both languages (app.schemas.refusal)
        return str(said)
    template = VALIDATION_MESSAGES_ZH.get(str(error.get("type", "")))
    if template is None:
        return f"取值无效（{english}）"
    # "应大于 0", not "应大于 0.0": a bound written as a float in the model reads as people write it.
    ctx = {
        k: int(v) if isinstance(v, float) and v.is_integer() else v
        for k, v in (error.get("ctx") or {}).items()
    }
    try:
        return template.format(**ctx)
    except (KeyError, IndexError, ValueError):
        return template.split("{", 1)[0].rstrip("：: ") or english


def preferred_language(accept_language: str | None) -> Lang:
    """Pick zh-CN or en from an Accept-Language header, honouring q-values."""
    if not accept_language:
        return "zh-CN"
    best: tuple[float, Lang] | None = None
    for part in accept_language.split(","):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip().lower()
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        lang: Lang | None = "en" if tag.startswith("en") else "zh-CN" if tag.startswith("zh") else None
        if lang and (best is None or q > best[0]):
            best = (q, lang)
    return best[1] if best else "zh-CN"


# What to do about a refusal raised without a sentence of its own: RFC 9457's `detail`, for the person
# reading it (a mobile app shows it as is). Codes raised with their own detail are not listed.
DETAILS: dict[str, tuple[str, str]] = {
    "unauthorized": (
        "请先登录，并在请求头 Authorization 中携带访问令牌。",
        "Log in and send the access token as a Bearer token.",
    ),
    "invalid_token": (
        "令牌无效或已过期，请重新登录或刷新令牌。",
        "The token is invalid or expired: log in again or refresh it.",
    ),
    "forbidden": ("您的角色不能执行此操作。", "Your role may not do this."),
    "not_found": (
        "该资源不存在，或不在您可查看的范围内。",
        "It does not exist, or is outside what you may see.",
    ),
    "method_not_allowed": (
        "该地址不支持此请求方法；可用的方法见 Allow 头。",
        "This address does not take this method; the Allow header lists those it takes.",
    ),
    "body_unreadable": (
        "请求体无法读取：须为 UTF-8 编码的 JSON，嵌套和数字不可过长。",
        "The body could not be read: it must be UTF-8 JSON, without very deep nesting or very long numbers.",
    ),
    "validation_failed": (
        "请求中有字段不符合要求，见 errors。",
        "Some fields of the request are not valid; see errors.",
    ),
    "invalid_cursor": (
        "分页游标无效或已过期，请从第一页重新开始（不带 cursor）。",
        "The cursor is invalid or stale: start again from the first page (no cursor).",
    ),
    "precondition_failed": (
        "资料已被修改：重新读取以取得新的 ETag 后再提交。",
        "It changed since you read it: read it again for the new ETag, then retry.",
    ),
    "precondition_required": (
        "请在 If-Match 请求头中带上读取时得到的 ETag。",
        "Send the ETag you read in an If-Match header.",
    ),
    "too_many_requests": (
        "请求过于频繁，请按 Retry-After 稍后再试。",
        "Too many requests: retry after the Retry-After seconds.",
    ),
    "internal_error": (
        "服务器出错，已记录；请稍后再试，如仍失败请提供 request_id。",
        "The server failed and logged it; retry later, quoting the request_id if it persists.",
    ),
}


def default_detail(code: str) -> tuple[str, str] | None:
    """The listed sentence for a code raised without its own detail."""
    return DETAILS.get(code)


def title_for(code: str, status: int, lang: Lang) -> str:
    """The human title of a problem code in one language."""
    zh, en = TITLES.get(code, TITLES.get("bad_request" if status < 500 else "internal_error", ("", "")))
    return zh if lang == "zh-CN" else en
