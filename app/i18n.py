"""Localised problem titles: zh-CN by default, English when the client prefers it."""

from __future__ import annotations

from typing import Literal

Lang = Literal["zh-CN", "en"]

TITLES: dict[str, tuple[str, str]] = {
    "bad_request": ("请求有误", "Bad request"),
    "unauthorized": ("需要登录", "Authentication required"),
    "invalid_credentials": ("用户名或密码错误", "Invalid username or password"),
    "invalid_token": ("令牌无效或已过期", "Invalid or expired token"),
    "refresh_token_reused": ("刷新令牌已被使用，请重新登录", "Refresh token already used; log in again"),
    "account_inactive": ("账户已停用", "Account is deactivated"),
    "forbidden": ("无权执行此操作", "Not allowed"),
    "not_found": ("未找到", "Not found"),
    "method_not_allowed": ("不支持该请求方法", "Method not allowed"),
    "not_acceptable": ("无法提供所需格式", "Not acceptable"),
    "conflict": ("状态冲突", "Conflict"),
    "already_exists": ("已存在", "Already exists"),
    "profile_exists": ("该账户已有资料", "This account already has a profile"),
    "precondition_failed": ("资料已被他人修改，请刷新后重试", "The resource changed; reload and retry"),
    "precondition_required": ("缺少 If-Match 请求头", "If-Match header required"),
    "payload_too_large": ("请求体过大", "Payload too large"),
    "file_too_large": ("文件过大", "File too large"),
    "unsupported_media_type": ("不支持的内容类型", "Unsupported media type"),
    "unprocessable": ("无法处理的请求", "Unprocessable request"),
    "validation_failed": ("请求参数校验失败", "Request validation failed"),
    "region_not_found": ("行政区划代码不存在", "Unknown region code"),
    "region_outside_jurisdiction": ("地区不在您的管辖范围内", "Region outside your jurisdiction"),
    "region_too_coarse": ("地区至少需精确到县级", "Region must be at least a county"),
    "unknown_category": ("未知的产品类别", "Unknown product category"),
    "invalid_cursor": ("分页游标无效", "Invalid pagination cursor"),
    "too_many_requests": ("请求过于频繁，请稍后再试", "Too many requests; try again later"),
    "login_throttled": ("登录失败次数过多，请稍后再试", "Too many failed logins; try again later"),
    "internal_error": ("服务器内部错误", "Internal server error"),
    "csrf_failed": (
        "表单已过期或来源不明，请刷新页面后重试",
        "The form expired or came from elsewhere; reload and retry",
    ),
}


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


def title_for(code: str, status: int, lang: Lang) -> str:
    """The human title of a problem code in one language."""
    zh, en = TITLES.get(code, TITLES.get("bad_request" if status < 500 else "internal_error", ("", "")))
    return zh if lang == "zh-CN" else en
