"""Rendering console pages: one Jinja2 environment, the words and CSRF token every template needs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from starlette.requests import Request
from starlette.responses import HTMLResponse

from app.access import STAFF_ROLES, Caller, Role
from app.access.roles import IMPORTER_ROLES, REVIEWER_ROLES
from app.console.charts import heat_cell
from app.console.i18n import console_language, word
from app.db import CHINA_TZ
from app.i18n import title_for
from app.matches.reasons import NOTE, reason_words
from matching import vocab

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")


def beijing(moment: datetime, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An instant as a clock in China reads it: stored in UTC, shown in Beijing time (UTC+8)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(CHINA_TZ).strftime(fmt)


templates.env.filters["beijing"] = beijing
templates.env.globals["heat_cell"] = heat_cell

# (word key, URL, roles that see the link) for the navigation bar.
NAV: tuple[tuple[str, str, tuple[Role, ...]], ...] = (
    ("home", "/console", STAFF_ROLES),
    ("review", "/console/proposals", REVIEWER_ROLES),
    ("runs", "/console/runs", REVIEWER_ROLES),
    ("matches", "/console/matches", REVIEWER_ROLES),
    ("flows", "/console/flows", REVIEWER_ROLES),
    ("reports", "/console/reports", REVIEWER_ROLES),
    ("honours", "/console/honours", REVIEWER_ROLES),
    ("imports", "/console/office/imports", IMPORTER_ROLES),
    ("roster", "/console/office/roster", (Role.TOWNSHIP_OFFICE,)),
    ("accounts", "/console/admin/accounts", (Role.ADMIN,)),
    ("jobs", "/console/admin/jobs", (Role.ADMIN,)),
)


LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "resource": vocab.RESOURCE_LABELS,
    "area": vocab.AREA_LABELS,
    "channel": vocab.CHANNEL_LABELS,
    "kind": vocab.MENTOR_KIND_LABELS,
    "status": {
        "proposed": ("待审核", "pending"),
        "approved": ("已批准", "approved"),
        "rejected": ("已拒绝", "rejected"),
        "superseded": ("已被替换", "superseded"),
        "declined": ("已谢绝", "declined"),
        "active": ("进行中", "active"),
        "completed": ("已完成", "completed"),
        "cancelled": ("已取消", "cancelled"),
        "queued": ("排队中", "queued"),
        "validating": ("校验中", "checking rows"),
        "applying": ("写入中", "applying"),
        "running": ("运行中", "running"),
        "done": ("已完成", "done"),
        "failed": ("失败", "failed"),
    },
    "role": {
        "admin": ("管理员", "administrator"),
        "coordinator": ("协调员", "coordinator"),
        "township_office": ("乡镇办公室", "township office"),
        "mentor": ("导师", "mentor"),
        "newcomer": ("新农人", "newcomer"),
    },
    "reject": {
        "not_complementary": ("不互补", "not complementary"),
        "too_far": ("距离太远", "too far"),
        "same_market": ("同质竞争", "same market"),
        "mentor_unsuitable": ("导师不合适", "mentor unsuitable"),
        "newcomer_not_ready": ("新农人尚未准备好", "newcomer not ready"),
        "duplicate": ("重复", "duplicate"),
        "other": ("其他", "other"),
    },
    # Why an active match was cancelled (matches.schemas.CancelReason), and who declined a match.
    "cancel": {
        "party_withdrew": ("一方退出", "a party withdrew"),
        "commitments_unmet": ("承诺未履行", "commitments unmet"),
        "mutual_agreement": ("双方协商一致", "mutual agreement"),
        "other": ("其他", "other"),
    },
    "party": {
        "mentor": ("导师谢绝", "the mentor declined"),
        "newcomer": ("新农人谢绝", "the newcomer declined"),
    },
    "job_kind": {
        "roster_import": ("名单导入", "roster import"),
        "matching_run": ("匹配运行", "matching run"),
        "retrain": ("模型重训", "model retraining"),
        "notification_delivery": ("通知发送", "notification delivery"),
    },
    "honour_status": {
        "proposed": ("待确认", "proposed"),
        "confirmed": ("已确认", "confirmed"),
        "revoked": ("已撤销", "revoked"),
    },
    "outcome": {
        "created": ("新增", "created"),
        "updated": ("更新", "updated"),
        "unchanged": ("未变", "unchanged"),
        "rejected": ("拒绝", "rejected"),
    },
    "part": {
        "product": ("产品关联", "product"),
        "resources": ("资源匹配", "resources"),
        "channels": ("渠道", "channels"),
        "language": ("语言", "language"),
        "text": ("描述相似", "text"),
        "track": ("过往表现", "track record"),
        "distance": ("距离", "distance"),
        "homogenization": ("同质化", "homogenization"),
        "equity": ("公平", "equity"),
    },
}


# The codes a person's decision is stored under in the audit trail ("too_far: 太远了").
REASON_CODES = {**LABELS["reject"], **LABELS["cancel"], **LABELS["party"], NOTE: ("备注", "note")}


def _csrf_token(request: Request) -> str:
    token = request.scope.get("csrftoken")
    return token() if callable(token) else ""


def _here(request: Request) -> str:
    query = request.url.query
    here = f"{request.url.path}?{query}" if query else request.url.path
    return here if len(here) <= 400 else request.url.path


def label_in(kind: str, code: str | None, lang: str) -> str:
    """A stored code (a status, a reason) in words; the code itself where no label exists."""
    zh, en = LABELS.get(kind, {}).get(code or "", (code or "", code or ""))
    return zh if lang == "zh-CN" else en


def page(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    caller: Caller | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """Render one template with the language, the words, the caller's navigation and a CSRF token."""
    lang = console_language(request)

    def t(key: str) -> str:
        return word(key, lang)

    def label(kind: str, code: str | None) -> str:
        return label_in(kind, code, lang)

    nav = [(t(key), url) for key, url, roles in NAV if caller and caller.has_role(*roles)]
    return templates.TemplateResponse(
        request,
        name,
        {
            "lang": lang,
            "t": t,
            "label": label,
            "reason": lambda stored: reason_words(stored, lang, REASON_CODES),
            # How a list and a label's detail are punctuated in the page's language.
            "sep": "、" if lang == "zh-CN" else ", ",
            "colon": "：" if lang == "zh-CN" else ": ",
            # A free text that only repeats a code's label (in either language) is not shown again.
            "says_label": lambda kind, code, text: text in LABELS.get(kind, {}).get(code, ()),
            # A problem code (invalid_credentials, login_throttled...) in the page's language.
            "error_title": lambda code: title_for(code, 400, lang),
            "caller": caller,
            "nav": nav,
            "csrf_token": _csrf_token(request),
            "path": request.url.path,
            # Where the language switch comes back to: the page with its filters (within `next`'s bound).
            "here": _here(request),
            **(context or {}),
        },
        status_code=status_code,
    )
