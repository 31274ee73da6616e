"""How the console shows a report: its bar charts, its table cells, the flow matrix, column labels.

Presentation only: every figure comes from the report service, aggregated in the database; this module
picks which columns to draw, orders the bars and formats the numbers in the page's language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from app.console import charts as drawing
from app.honours.rules import HonourRule
from app.i18n import Lang
from app.reports.activity import PAIRING_LABELS
from app.reports.common import Report
from app.reports.exports import Sheet
from app.reports.provinces import Province

# The columns each report draws as bar charts (the first also orders the bars, largest first).
CHARTS: dict[str, tuple[str, ...]] = {
    "reach": ("newcomers_reached", "matches"),
    "fulfilment": ("fulfilment_rate",),
    "outcomes": ("share_first_sale_90d", "median_days_to_first_sale", "mean_orders_growth"),
    "gaps": ("waiting",),
    "equity": ("match_rate", "share_first_sale_90d"),
    "homogenisation": ("top_share",),
}
# Reports whose rows keep their own order in the charts (the quintiles read low to high).
KEEP_ORDER = frozenset({"equity"})
# Shares between 0 and 1: drawn against 1 and shown as percentages.
SHARES = frozenset(
    {
        "fulfilment_rate",
        "share_first_sale_90d",
        "match_rate",
        "top_share",
        "penetration_min",
        "penetration_max",
    }
)
# Columns of words, not figures (left-aligned).
TEXT_COLUMNS = frozenset({"name", "from_name", "to_name", "top_category_name", "top_category"})
TOP_BARS = 15
# A nationwide report can have thousands of rows: the page shows the first ones, the download all.
TABLE_ROWS = 300

COLUMNS: dict[str, tuple[str, str]] = {
    "key": ("分组", "Group"),
    "name": ("名称", "Name"),
    "region_code": ("地区代码", "Region code"),
    "newcomers_reached": ("覆盖新农人", "Newcomers reached"),
    "mentors": ("导师数", "Mentors"),
    "matches": ("结对数", "Matches"),
    "active": ("进行中", "Active"),
    "completed": ("已完成", "Completed"),
    "cancelled": ("已取消", "Cancelled"),
    "commitments": ("承诺数", "Commitments"),
    "done": ("完成周期", "Periods done"),
    "partial": ("部分完成", "Partly done"),
    "missed": ("未完成", "Missed"),
    "fulfilment_rate": ("履约率", "Fulfilment rate"),
    "first_sale_90d": ("90 天内首单", "First sale ≤ 90 days"),
    "share_first_sale_90d": ("90 天内首单占比", "Share with a first sale ≤ 90 days"),
    "with_first_sale": ("已有首单", "With a first sale"),
    "median_days_to_first_sale": ("首单天数中位数", "Median days to first sale"),
    "with_orders_report": ("有月报", "With a monthly report"),
    "mean_orders_growth": ("月订单平均增长", "Mean growth in monthly orders"),
    "from_province": ("导师所在省代码", "From (code)"),
    "from_name": ("导师所在省", "From: mentors' province"),
    "to_province": ("新农人所在省代码", "To (code)"),
    "to_name": ("新农人所在省", "To: newcomers' province"),
    "newcomers": ("新农人数", "Newcomers"),
    "county_code": ("县代码", "County code"),
    "waiting": ("等待中", "Waiting"),
    "active_matches": ("进行中结对", "Active matches"),
    "no_active_match": ("有人等待却无进行中结对", "Waiting, no active match"),
    "no_mentors": ("县内无导师", "No mentor in the county"),
    "quintile": ("五分位", "Quintile"),
    "penetration_min": ("渗透率自", "Penetration from"),
    "penetration_max": ("渗透率至", "Penetration to"),
    "counties": ("县数", "Counties"),
    "newcomers_matched": ("已结对新农人", "Newcomers matched"),
    "match_rate": ("结对率", "Match rate"),
    "top_category": ("主要品类代码", "Top product (code)"),
    "top_category_name": ("主要品类", "Top product"),
    "top_count": ("该品类人数", "Newcomers selling it"),
    "top_share": ("该品类占比", "Its share"),
    # Figures an honour rule reads (its evidence).
    "periods": ("打卡周期", "Check-in periods"),
    "mean_rating": ("新农人平均评分", "Newcomers' mean rating"),
    "ratings": ("评分数", "Ratings"),
}


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar: what it stands for, its length in % of the longest, and its value as text."""

    label: str
    width: float
    text: str


@dataclass(frozen=True, slots=True)
class Chart:
    """The bars of one column."""

    column: str
    title: str
    bars: list[Bar]


@dataclass(frozen=True, slots=True)
class Matrix:
    """The flows as a grid: rows are mentors' provinces, columns newcomers' provinces."""

    rows: list[tuple[str, list[tuple[int, float]]]]
    columns: list[str]


# What a definition may start with besides a column (a grouping); a definition's head names columns.
TERMS: dict[str, tuple[str, str]] = {**COLUMNS, "pairing": ("结对类型", "Pairing type")}
# The service names pairing types in Chinese (PAIRING_LABELS); the page adds their English.
_PAIRING_EN = {"same_trade": "same trade", "chain": "up/downstream", "other": "other"}
PAIRING_WORDS: dict[str, tuple[str, str]] = {k: (zh, _PAIRING_EN[k]) for k, zh in PAIRING_LABELS.items()}


# A column's code inside a definition's sentence (share_first_sale_90d): an identifier, never a word.
_CODE_IN_TEXT = re.compile(
    r"(?<![A-Za-z0-9_])("
    + "|".join(sorted((c for c in COLUMNS if "_" in c), key=len, reverse=True))
    + r")(?![A-Za-z0-9_])"
)


_CODE_IN_ZH = re.compile(r" ?" + _CODE_IN_TEXT.pattern + r" ?")


def definition(text: str, lang: Lang) -> str:
    """A definition as the page reads it: the columns it names ("a / b：...", share_first_sale_90d) by
    their headings."""
    pick = 0 if lang == "zh-CN" else 1
    sep = "：" if lang == "zh-CN" else ": "
    head, found, rest = text.partition(sep)
    terms = head.split(" / ")
    if found and all(t in TERMS for t in terms):
        text = " / ".join(TERMS[t][pick] for t in terms) + sep + rest
    if pick == 1:
        return _CODE_IN_TEXT.sub(lambda m: COLUMNS[m.group(1)][1], text)
    # In Chinese the code stood between spaces, as a foreign word does; the heading takes 「」 instead.
    return _CODE_IN_ZH.sub(lambda m: f"「{COLUMNS[m.group(1)][0]}」", text)


# A code column left out where a column beside it names the same thing in words.
NAMED_BY = {"key": "name", "top_category": "top_category_name"}


def shown_columns(report: Report) -> list[str]:
    """The table's columns on the page: a code is left out where a name says it in words (the group key,
    the main category), and a column that is empty in every row (a pairing type has no region) says
    nothing."""
    empty = {
        c for i, c in enumerate(report.columns) if report.rows and all(row[i] is None for row in report.rows)
    }
    return [
        c for c in report.columns if not (c in NAMED_BY and NAMED_BY[c] in report.columns) and c not in empty
    ]


def column_label(column: str, lang: Lang) -> str:
    """A column's name in the page's language (the code itself when it has none)."""
    zh, en = COLUMNS.get(column, (column, column))
    return zh if lang == "zh-CN" else en


def cell(column: str, value: Any, lang: Lang) -> str:
    """A figure as the table shows it: shares in %, other decimals to one place, yes/no, blanks as —."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return ("是" if value else "否") if lang == "zh-CN" else ("yes" if value else "no")
    if column in SHARES:
        return f"{float(value) * 100:.1f}%"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _label(row: dict[str, Any]) -> str:
    for column in ("name", "county_code", "key"):
        if row.get(column) not in (None, ""):
            return str(row[column])
    if "quintile" in row:
        return f"Q{row['quintile']}"
    return "—"


Names = dict[str, tuple[str, str]]


def charts(report: Report, lang: Lang, categories: Names | None = None) -> list[Chart]:
    """The report's bar charts: the top rows by the first charted column (all quintiles for equity)."""
    columns = [c for c in CHARTS.get(report.name, ()) if c in report.columns]
    if not columns:
        return []
    rows = report.records()
    if report.name not in KEEP_ORDER:
        first = columns[0]
        rows = sorted(rows, key=lambda r: (r[first] is None, -(r[first] or 0)))
    rows = [_worded(r, lang, categories) for r in rows[:TOP_BARS]]
    out = []
    for column in columns:
        values = [float(r[column]) for r in rows if r[column] is not None]
        longest = 1.0 if column in SHARES else max([abs(v) for v in values] + [0.0])
        bars = [
            Bar(
                _label(r),
                round(max(float(r[column] or 0), 0.0) / longest * 100, 1) if longest else 0.0,
                cell(column, r[column], lang),
            )
            for r in rows
        ]
        out.append(Chart(column, column_label(column, lang), bars))
    return out


def table(report: Report, lang: Lang, categories: Names | None = None) -> list[list[tuple[str, str]]]:
    """The first TABLE_ROWS rows as (column, text) cells of the shown columns."""
    shown = shown_columns(report)
    return [
        [(c, cell(c, r[c], lang)) for c in shown]
        for r in (_worded(r, lang, categories) for r in report.records()[:TABLE_ROWS])
    ]


def categories_of(report: Report) -> set[str]:
    """The product categories a report's rows name by code (their names in both languages are looked up)."""
    if "top_category" not in report.columns:
        return set()
    at = report.columns.index("top_category")
    return {row[at] for row in report.rows if row[at]}


def _worded(row: dict[str, Any], lang: Lang, categories: Names | None) -> dict[str, Any]:
    """A row's names in the page's language: the service names pairing types and categories in Chinese."""
    pick = 0 if lang == "zh-CN" else 1
    words = PAIRING_WORDS.get(row.get("key")) if row.get("region_code") is None else None
    if words and "name" in row:
        row = {**row, "name": words[pick]}
    named = (categories or {}).get(row.get("top_category") or "")
    if named and "top_category_name" in row:
        row = {**row, "top_category_name": named[pick]}
    return row


def flow_matrix(report: Report) -> Matrix | None:
    """The flows report's matrix with province names, each cell with its heat (0–1 of the largest).

    Only provinces some flow leaves make rows, and only those some flow reaches make columns: the API's
    square matrix over every province involved is mostly empty for one jurisdiction.
    """
    provinces: list[str] = report.extra.get("provinces", [])
    counts: list[list[int]] = report.extra.get("matrix", [])
    if not provinces:
        return None
    names = {r[0]: r[1] for r in report.rows} | {r[2]: r[3] for r in report.rows}
    largest = max((n for row in counts for n in row), default=0) or 1
    label = [names.get(p) or p for p in provinces]
    rows = [i for i, row in enumerate(counts) if any(row)]
    columns = [j for j in range(len(provinces)) if any(row[j] for row in counts)]
    return Matrix(
        [(label[i], [(counts[i][j], round(counts[i][j] / largest, 3)) for j in columns]) for i in rows],
        [label[j] for j in columns],
    )


@dataclass(frozen=True, slots=True)
class FlowMap:
    """The flows report on the map: lines (x1, y1, x2, y2, width, from, to, matches), thinnest first so
    the largest flows are drawn on top, and every province as a point (x, y, name, has a flow)."""

    lines: list[tuple[float, float, float, float, float, str, str, int]]
    points: list[tuple[float, float, str, bool]]


def flow_map(report: Report, centres: dict[str, Province]) -> FlowMap:
    """The flows report's rows (mentors' province to newcomers') as lines between province centres."""
    flows = [(r[0], r[2], int(r[4])) for r in report.rows]
    involved = {a for a, _, _ in flows} | {b for _, b, _ in flows}
    largest = max((n for _, _, n in flows), default=0)
    lines = [
        (
            *drawing.project(centres[a].lat, centres[a].lon),
            *drawing.project(centres[b].lat, centres[b].lon),
            drawing.stroke(n, largest),
            centres[a].name,
            centres[b].name,
            n,
        )
        for a, b, n in sorted(flows, key=lambda f: f[2])
        # A flow inside one province has no line; a province without coordinates has no point.
        if a != b and a in centres and b in centres
    ]
    points = [(*drawing.project(p.lat, p.lon), p.name, p.code in involved) for p in centres.values()]
    return FlowMap(lines, points)


def figures(values: dict[str, Any], lang: Lang) -> list[tuple[str, str]]:
    """Named figures (an honour's evidence) as (label, text), in the order the columns are listed."""
    return [(column_label(c, lang), cell(c, values[c], lang)) for c in COLUMNS if c in values]


def rule_text(rule: HonourRule, lang: Lang) -> str:
    """An honour rule as a condition, e.g. 履约率 ≥ 90.0%（打卡周期 ≥ 12）."""
    text = f"{column_label(rule.metric, lang)} ≥ {cell(rule.metric, rule.threshold, lang)}"
    if rule.support:
        support = f"{column_label(rule.support, lang)} ≥ {rule.min_support}"
        text += f"（{support}）" if lang == "zh-CN" else f" ({support})"
    return text


def worded_sheet(report: Report, lang: Lang, categories: Names | None, scope_name: str | None) -> Sheet:
    """The report as the page words it, for people who open it in Excel: the page's headings and names,
    yes/no in words, shares as percentages (numbers in the XLSX, text in the CSV), every row."""
    pick = 0 if lang == "zh-CN" else 1
    shown = shown_columns(report)
    records = [_worded(r, lang, categories) for r in report.records()]
    yes_no = ("是", "否") if pick == 0 else ("yes", "no")

    def value(column: str, v: Any) -> Any:
        if v is None:
            return None  # an empty cell
        if isinstance(v, bool):
            return yes_no[0] if v else yes_no[1]
        if isinstance(v, float):
            return round(v, 4 if column in SHARES else 2)
        return v

    p = report.params
    words = {
        "zh-CN": ("范围", "全国", "起始日期", "截止日期", "口径说明"),
        "en": ("Scope", "Nationwide", "From", "To", "Definitions"),
    }[lang]
    scope = f"{scope_name} ({p.scope})" if scope_name else (p.scope or words[1])
    return Sheet(
        name=report.title[pick],
        title_rows=[
            [report.title[pick]],
            [words[0], scope, words[2], p.date_from.isoformat(), words[3], p.date_to.isoformat()],
        ],
        header=[column_label(c, lang) for c in shown],
        rows=[[value(c, r[c]) for c in shown] for r in records],
        csv_rows=[["" if r[c] is None else cell(c, r[c], lang) for c in shown] for r in records],
        definitions_name=words[4],
        definitions=[[definition(text[pick], lang)] for text in report.definitions],
        percent_columns=frozenset(i for i, c in enumerate(shown) if c in SHARES),
    )
