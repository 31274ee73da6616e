"""Every word a console page asks for exists in both languages (a missing key shows as itself)."""

from __future__ import annotations

import re
from pathlib import Path

import app.console
from app.console.i18n import WORDS

CONSOLE = Path(app.console.__file__).parent
# t("key") in a template, word("key", ...) in a console module: whole literal keys only (a built key,
# t("by_" ~ g) or word(f"sep_{v}"), is checked by the pages that show it).
ASKED = re.compile(r"""(?<![\w.])(?:t|word)\(\s*["']([a-z0-9_]+)["']\s*[,)]""")


def _asked() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in [*CONSOLE.rglob("*.html"), *CONSOLE.rglob("*.py")]:
        for key in ASKED.findall(path.read_text(encoding="utf-8")):
            found.setdefault(key, set()).add(path.name)
    return found


def test_every_asked_word_exists_in_both_languages():
    asked = _asked()
    assert len(asked) > 150  # the scan finds the pages' words at all
    assert {k: sorted(v) for k, v in asked.items() if k not in WORDS} == {}
    assert [k for k, (zh, en) in WORDS.items() if not zh.strip() or not en.strip()] == []


def test_every_stored_code_shown_by_a_page_has_words():
    from app.console.render import LABELS, REASON_CODES
    from app.matches.schemas import CancelReason
    from app.models.jobs import JOB_KINDS
    from app.proposals.schemas import RejectReason

    assert set(JOB_KINDS) <= LABELS["job_kind"].keys()
    assert set(CancelReason.__args__) <= LABELS["cancel"].keys()
    assert set(RejectReason.__args__) <= REASON_CODES.keys()
    assert {"mentor", "newcomer"} <= LABELS["party"].keys()


def test_a_code_beside_its_name_is_not_shown_and_definitions_read_in_words():
    from datetime import date

    from app.console.report_views import definition, shown_columns
    from app.reports.common import Report, ReportParams

    report = Report(
        name="homogenisation",
        title=("同质化风险", "Homogenisation"),
        params=ReportParams("53", date(2026, 1, 1), date(2026, 6, 30)),
        columns=["county_code", "name", "newcomers", "top_category", "top_category_name", "top_share"],
        rows=[["532302", "禄丰市", 5, "tea.processing", "茶叶加工", 0.6]],
        definitions=[],
    )
    assert shown_columns(report) == ["county_code", "name", "newcomers", "top_category_name", "top_share"]
    text = "fulfilment_rate =（完成周期 + ½ × 部分完成）/（完成周期 + 部分完成 + 未完成）；无周期时为空。"
    assert definition(text, "zh-CN").startswith("「履约率」=（完成周期")
    assert not re.search(r"[a-z_]{4,}", definition(text, "zh-CN"))
