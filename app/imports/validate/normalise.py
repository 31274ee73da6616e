"""Pure normalisers for roster cells: each turns messy spreadsheet text into a canonical value.

Errors are raised as CellError; warnings (the value is still usable) are returned next to the value.
Coded fields (phones, codes, numbers, vocabularies) go through NFKC so full-width digits, letters and
punctuation become half-width; free text (names, notes) is only trimmed, so what people typed is kept.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, TypeVar

from app.honours.rules import awarded_among
from app.imports.validate.products import ProductGroup, no_group
from app.text import INVISIBLE, drop_invisible
from matching.vocab import SALES_BANDS

DEFAULT_CAPACITY: Final = 3
MAX_CAPACITY: Final = 20
MAX_YEARS: Final = 80


@dataclass(frozen=True, slots=True)
class CellProblem:
    """One problem with one cell, in both languages, under a stable machine code."""

    code: str
    message_zh: str
    message_en: str


class CellError(ValueError):
    """The cell cannot be used; the row is rejected."""

    def __init__(self, code: str, message_zh: str, message_en: str) -> None:
        super().__init__(f"{code}: {message_en}")
        self.problem = CellProblem(code, message_zh, message_en)


# Zero-width characters, and the bidi marks, embeddings, overrides and isolates that text copied from
# web pages carries: none is visible, so "138\u200e0013\u200f8006" looks like a valid phone (and a
# name with U+202E shows reversed). Both kinds go.
_SPACES_RE: Final = re.compile(r"\s+")
# Separators for list cells; NFKC has already turned ，；／｜ into , ; / |.
_LIST_SPLIT_RE: Final = re.compile(r"[、,;/|\s]+")


def clean_text(raw: str) -> str:
    """Trim and collapse whitespace (full-width spaces and line breaks too), drop zero-width chars."""
    if not raw:
        return raw  # most optional cells are empty
    return _SPACES_RE.sub(" ", drop_invisible(raw)).strip()


def fold(raw: str) -> str:
    """Full-width to half-width (NFKC), trimmed and collapsed; the base for every coded field."""
    if not raw:
        return raw
    if len(raw) <= _FOLD_CACHED_CHARS:
        return _fold_short(raw)  # vocabulary words, kinds, list items repeat on almost every row
    return clean_text(unicodedata.normalize("NFKC", raw))


_FOLD_CACHED_CHARS: Final = 32


@functools.lru_cache(maxsize=4_096)  # pure, and bounded: 4,096 strings of at most 32 characters
def _fold_short(raw: str) -> str:
    return clean_text(unicodedata.normalize("NFKC", raw))


def is_blank(raw: str) -> bool:
    """fold(raw) == "", without folding: a cell is blank when nothing but spaces and zero-width marks.

    NFKC never turns a visible character into a space or a zero-width mark, so only the first
    character after the spaces needs a look; only a cell starting with a zero-width mark is folded.
    """
    text = raw.strip()
    return not text or (text[0] in INVISIBLE and not fold(raw))


_MEMO_CHARS: Final = 64
_MEMO_SIZE: Final = 4_096
_T = TypeVar("_T")
_W = TypeVar("_W")


def memoised(normalise: Callable[..., _T]) -> Callable[..., _T]:
    """A pure normaliser whose answers for short cells are remembered (bounded LRU).

    Roster columns repeat a handful of values (kinds, channel lists, "3年", capacities) on every row.
    The answer must be immutable; an error is not remembered (the cell is normalised, and raises, again).
    """
    cached = functools.lru_cache(maxsize=_MEMO_SIZE)(normalise)

    def call(raw: str, *args: object) -> _T:
        return cached(raw, *args) if len(raw) <= _MEMO_CHARS else normalise(raw, *args)

    return call


def memoised_warned(
    normalise: Callable[..., tuple[_W, list[CellProblem]]],
) -> Callable[..., tuple[_W, list[CellProblem]]]:
    """memoised() for normalisers that return (value, warnings): each caller gets its own list."""

    def frozen(raw: str, *args: object) -> tuple[_W, tuple[CellProblem, ...]]:
        value, warnings = normalise(raw, *args)
        return value, tuple(warnings)

    cached = memoised(frozen)

    def call(raw: str, *args: object) -> tuple[_W, list[CellProblem]]:
        value, warnings = cached(raw, *args)
        return value, list(warnings)

    return call


def split_list(raw: str) -> list[str]:
    """Split a list cell on 、，,;；/| and whitespace; drop empties and repeats, keep order."""
    items = (item for item in _LIST_SPLIT_RE.split(fold(raw)) if item)
    return list(dict.fromkeys(items))


# ---------------------------------------------------------------- phone

_PHONE_RE: Final = re.compile(r"1[3-9]\d{9}")
_PHONE_LABEL_RE: Final = re.compile(r"^(?:tel|mobile|phone|手机号码|手机号|手机|电话)\s*:?\s*", re.IGNORECASE)
_PHONE_CHARS_RE: Final = re.compile(r"[\d\s\-+().]+")
_PHONE_SPLIT_RE: Final = re.compile(r"[/、,;|]|或|\bor\b", re.IGNORECASE)
EXCEL_FLOAT_RE: Final = re.compile(r"\.0+$")


def _one_phone(text: str) -> str | None:
    """Canonical 11-digit mobile from one candidate, or None."""
    text = _PHONE_LABEL_RE.sub("", text.strip())
    text = EXCEL_FLOAT_RE.sub("", text)  # 13800138000.0 from a numeric Excel cell
    if not text or not _PHONE_CHARS_RE.fullmatch(text):
        return None
    if "+" in text and not re.match(r"^\(?\+86\)?[^+]*$", text):
        return None  # a foreign country code, or a stray plus in the middle
    digits = re.sub(r"\D", "", text)
    if len(digits) == 15 and digits.startswith("0086"):
        digits = digits[4:]
    elif len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits if _PHONE_RE.fullmatch(digits) else None


def normalise_phone(raw: str) -> tuple[str, list[CellProblem]]:
    """Canonical mainland mobile (11 digits, 1[3-9]...); the first of several is kept with a warning."""
    text = fold(raw)
    found: list[str] = []
    rejected: list[str] = []
    for part in (p.strip() for p in _PHONE_SPLIT_RE.split(text)):
        if not part:
            continue
        phone = _one_phone(part)
        if phone is None and " " in part:
            # "13800138000 13900139000": two numbers separated only by a space.
            singles = [_one_phone(token) for token in part.split()]
            if all(singles):
                found.extend(s for s in singles if s)
                continue
        if phone is None:
            rejected.append(part)
        else:
            found.append(phone)
    if not found:
        raise CellError(
            "phone_invalid",
            f"手机号“{raw.strip()}”无效：应为 11 位大陆手机号（1 开头，第二位 3-9）。",
            f'Phone "{raw.strip()}" is invalid: expected an 11-digit mainland mobile number (1[3-9]...).',
        )
    warnings: list[CellProblem] = []
    others = [p for p in dict.fromkeys(found) if p != found[0]] + rejected
    if others:
        listed = ", ".join(others)
        warnings.append(
            CellProblem(
                "phone_multiple",
                f"单元格含多个号码，已取 {found[0]}，忽略：{listed}。",
                f"Several numbers in the cell; kept {found[0]}, ignored: {listed}.",
            )
        )
    return found[0], warnings


# ---------------------------------------------------------------- vocabularies


def _keywords(*groups: tuple[str, str]) -> tuple[tuple[str, str], ...]:
    """(keyword, code) pairs from (code, "space separated keywords") groups, order kept."""
    return tuple((keyword, code) for code, words in groups for keyword in words.split())


@functools.cache
def _whole_word(keyword: str) -> re.Pattern[str]:
    """An English keyword as a whole word (compiled once: this runs for every cell of every row)."""
    return re.compile(rf"(?<![a-z]){re.escape(keyword)}(?![a-z])")


def _vocab_lookup(token: str, table: tuple[tuple[str, str], ...]) -> str | None:
    """First code whose keyword occurs in the token: as a whole word for English keywords."""
    key = token.casefold()
    ascii_key = key.isascii()
    for keyword, code in table:
        if keyword.isascii():
            # A whole-word English keyword needs its letters in the token; skip the regex otherwise.
            if keyword in key and _whole_word(keyword).search(key):
                return code
        elif not ascii_key and keyword in key:
            return code
    return None


# Checked in order, so cooperatives and enterprises come before the bare "户" of 种植户/专业户,
# and "有限公司" is not mistaken for a household. Family farms are household-scale sellers.
_KINDS: Final = _keywords(
    ("cooperative", "合作社 联合社 cooperative co-op coop"),
    ("enterprise", "公司 企业 enterprise company corporation ltd"),
    ("household", "家庭农场 个体 农户 household farmer individual 户"),
)


def normalise_kind(raw: str) -> str:
    """household | cooperative | enterprise from Chinese or English wording."""
    kind = _vocab_lookup(fold(raw), _KINDS)
    if kind is None:
        raise CellError(
            "kind_invalid",
            f"类型“{raw.strip()}”无法识别：应为 农户/个体户、合作社 或 企业/公司。",
            f'Kind "{raw.strip()}" is not recognised: expected household, cooperative or enterprise.',
        )
    return kind


_CHANNELS: Final = _keywords(
    ("taobao", "淘宝 天猫 taobao tmall"),
    ("pinduoduo", "拼多多 pinduoduo pdd"),
    ("jd", "京东 jd jingdong"),
    ("douyin", "抖音 抖店 douyin"),
    ("kuaishou", "快手 kuaishou"),
    ("wechat", "微信 视频号 朋友圈 wechat weixin"),
)


def _lookup_tokens(tokens: list[str], table: tuple[tuple[str, str], ...]) -> tuple[list[str], list[str]]:
    """(distinct codes in first-seen order, tokens no keyword matched)."""
    codes: list[str] = []
    unknown: list[str] = []
    for token in tokens:
        code = _vocab_lookup(token, table)
        if code is None:
            unknown.append(token)
        elif code not in codes:
            codes.append(code)
    return codes, unknown


def normalise_channels(raw: str) -> tuple[tuple[str, ...], list[CellProblem]]:
    """Channel codes from vocab.CHANNELS; unknown channels are a warning, not an error."""
    codes, unknown = _lookup_tokens(split_list(raw), _CHANNELS)
    warnings: list[CellProblem] = []
    if unknown:
        listed = "、".join(unknown)
        warnings.append(
            CellProblem(
                "channel_unknown",
                f"未识别的销售渠道已忽略：{listed}。",
                f"Unrecognised sales channels ignored: {listed}.",
            )
        )
    return tuple(codes), warnings


_RESOURCES: Final = _keywords(
    ("information", "信息 information info"),
    ("technology", "技术 technology tech"),
    ("human_capital", "人力 人才 human_capital"),
    ("logistics", "物流 logistics"),
)
_HUMAN_CAPITAL_RE: Final = re.compile(r"human[\s\-]+capital", re.IGNORECASE)


def normalise_resources(raw: str) -> tuple[tuple[str, ...], list[CellProblem]]:
    """Resource codes from vocab.RESOURCE_TYPES; at least one must be recognised."""
    # The English name contains a space, which is also a list separator.
    text = _HUMAN_CAPITAL_RE.sub("human_capital", fold(raw))
    codes, unknown = _lookup_tokens(split_list(text), _RESOURCES)
    if not codes:
        raise CellError(
            "resources_invalid",
            f"可分享资源“{raw.strip()}”无法识别：应为 信息、技术、人力、物流 中的一项或多项。",
            f'Resources "{raw.strip()}" not recognised: expected information, technology, human capital '
            "and/or logistics.",
        )
    warnings: list[CellProblem] = []
    if unknown:
        listed = "、".join(unknown)
        warnings.append(
            CellProblem(
                "resource_unknown",
                f"未识别的资源已忽略：{listed}。",
                f"Unrecognised resources ignored: {listed}.",
            )
        )
    return tuple(codes), warnings


def _group_problem(code: str, groups: list[tuple[str, ProductGroup]], *, ignored: bool) -> CellProblem:
    """A product word names a whole group: say which group, and which categories to write instead."""
    zh = "；".join(
        f"“{word}”是产品大类“{g.name_zh}”，不是具体品类，请改填该类下的品类：{'、'.join(g.leaves_zh)}"
        for word, g in groups
    )
    en = "; ".join(
        f'"{word}" names the product group "{g.name_en}", not a category; write one of its '
        f"categories instead: {', '.join(g.leaves_en)}"
        for word, g in groups
    )
    if ignored:
        return CellProblem(code, f"{zh}。该词已忽略。", f"{en}. The word was ignored.")
    return CellProblem(code, f"{zh}。", f"{en}.")


def normalise_products(
    raw: str,
    map_product: Callable[[str], str | None],
    map_group: Callable[[str], ProductGroup | None] = no_group,
) -> tuple[tuple[str, ...], list[CellProblem]]:
    """Leaf category codes via the injected taxonomy mapper; at least one product must map.

    A word naming a whole group (map_group) never becomes a product: it is reported by its group.
    """
    codes: list[str] = []
    unmapped: list[str] = []
    groups: list[tuple[str, ProductGroup]] = []
    for token in split_list(raw):
        group = map_group(token)
        if group is not None:
            groups.append((token, group))
            continue
        code = map_product(token)
        if code is None:
            unmapped.append(token)
        elif code not in codes:
            codes.append(code)
    listed = "、".join(unmapped)
    if not codes:
        if groups:
            problem = _group_problem("products_only_group", groups, ignored=False)
            zh = f"主营产品均无法对应到产品分类：{listed}。" if unmapped else ""
            en = f"None of the products matches the category taxonomy: {listed}. " if unmapped else ""
            raise CellError(problem.code, zh + problem.message_zh, en + problem.message_en)
        raise CellError(
            "products_none_mapped",
            f"主营产品均无法对应到产品分类：{listed}。",
            f"None of the products matches the category taxonomy: {listed}.",
        )
    warnings: list[CellProblem] = []
    if groups:
        warnings.append(_group_problem("product_is_group", groups, ignored=True))
    if unmapped:
        warnings.append(
            CellProblem(
                "product_unmapped",
                f"以下产品未能对应到产品分类，已忽略：{listed}。",
                f"Products not in the category taxonomy were ignored: {listed}.",
            )
        )
    return tuple(codes), warnings


def split_honours(raw: str) -> tuple[tuple[str, ...], list[CellProblem]]:
    """Honours split like products, kept as text; a title the service awards is dropped, with a warning."""
    titles = split_list(raw)
    claimed = awarded_among(titles)
    if not claimed:
        return tuple(titles), []
    listed = "、".join(claimed)
    warning = CellProblem(
        "honour_title_reserved",
        f"荣誉“{listed}”由平台根据带徒成效评定、协调员确认后授予，不能通过导入填写，已忽略。",
        f"The honour {listed} is awarded by the service on its evidence, after a coordinator confirms it; "
        "an import cannot set it, so it was ignored.",
    )
    return tuple(t for t in titles if t not in claimed), [warning]


# ---------------------------------------------------------------- numbers

_APPROX_RE: Final = re.compile(r"^(?:约|大约|大概|近|~|≈)\s*")
_NUMBER_RE: Final = re.compile(r"\d+(?:\.\d+)?")
_THOUSANDS_RE: Final = re.compile(r"(?<=\d),(?=\d{3}\b)")


def _number_text(raw: str) -> str:
    """Fold, drop "约"-style approximations and thousands separators."""
    return _THOUSANDS_RE.sub("", _APPROX_RE.sub("", fold(raw)))


def parse_whole_number(
    raw: str, *, field_zh: str, field_en: str, code: str, units: str = "", maximum: int
) -> int:
    """A whole number 0..maximum such as "12", "12人", "约12", "12.0" (Excel); else CellError."""
    text = _number_text(raw)
    for unit in units:
        text = text.removesuffix(unit).strip()
    text = text.removesuffix("多").removesuffix("余").strip()
    if _NUMBER_RE.fullmatch(text) and float(text).is_integer() and int(float(text)) <= maximum:
        return int(float(text))
    raise CellError(
        code,
        f"{field_zh}“{raw.strip()}”应为 0-{maximum} 的整数。",
        f'{field_en} "{raw.strip()}" must be a whole number from 0 to {maximum}.',
    )


_YEARS_RE: Final = re.compile(r"(\d+(?:\.\d+)?)\s*(?:年|years?|yrs?)?\s*(?:多|余|以上|\+)?", re.IGNORECASE)


def normalise_years(raw: str) -> tuple[int, list[CellProblem]]:
    """Whole years selling: "3年" is 3; a fraction ("3.5年") is rounded down with a warning.

    Rounding down never overstates a mentor's experience, and the row is not lost over half a year.
    """
    text = _number_text(raw)
    if text in ("半年", "不到1年", "不足1年"):
        text = "0.5"
    match = _YEARS_RE.fullmatch(text)
    if match is None or float(match.group(1)) > MAX_YEARS:
        raise CellError(
            "years_invalid",
            f"从业年限“{raw.strip()}”应为 0-{MAX_YEARS} 的整数年（如 3 或 3年）。",
            f'Years selling "{raw.strip()}" must be whole years between 0 and {MAX_YEARS} (e.g. 3).',
        )
    value = float(match.group(1))
    years = math.floor(value)
    warnings: list[CellProblem] = []
    if value != years:
        warnings.append(
            CellProblem(
                "years_rounded_down",
                f"从业年限“{raw.strip()}”不是整数，已按 {years} 年计。",
                f'Years selling "{raw.strip()}" is not whole; recorded as {years}.',
            )
        )
    return years, warnings


_AMOUNT: Final = r"(\d+(?:\.\d+)?)\s*(万元|万|亿元|亿|元)?"
_RANGE_RE: Final = re.compile(_AMOUNT + r"\s*(?:-|~|到|至|—|–)\s*" + _AMOUNT)
_SINGLE_RE: Final = re.compile(_AMOUNT + r"\s*(以上|以下|\+)?")
_BOUND_PREFIX_RE: Final = re.compile(r"^(>=|≥|>|<=|≤|<)\s*")


def _in_10k(number: str, unit: str | None) -> float:
    """Convert an amount to the column's unit, 10,000 CNY (万元)."""
    value = float(number)
    if unit in ("亿", "亿元"):
        return value * 10_000
    if unit == "元":
        return value / 10_000
    return value


def sales_band_for(value: float) -> tuple[float, float | None]:
    """The vocab.SALES_BANDS band (lower bound inclusive) holding an amount in 万元."""
    for _code, low, high in SALES_BANDS:
        if value >= low and (high is None or value < high):
            return float(low), (None if high is None else float(high))
    raise ValueError(f"negative sales amount: {value}")  # bands start at 0, amounts are >= 0


def normalise_sales(raw: str) -> tuple[float, float | None]:
    """Annual sales band (min, max) in 万元: "约50" → its band, "50-100" → (50, 100), "1000以上" → open."""
    text = _number_text(raw).replace(" ", "")
    prefix = _BOUND_PREFIX_RE.match(text)
    if prefix:
        text = text[prefix.end() :] + ("以下" if "<" in prefix.group(1) or "≤" in prefix.group(1) else "以上")
    if match := _RANGE_RE.fullmatch(text):
        unit = match.group(4) or match.group(2)  # "50-100万": the unit written once applies to both
        low, high = _in_10k(match.group(1), match.group(2) or unit), _in_10k(match.group(3), unit)
        if low <= high:
            return low, high
    elif match := _SINGLE_RE.fullmatch(text):
        value = _in_10k(match.group(1), match.group(2))
        if match.group(3) in ("以上", "+"):
            return value, None
        if match.group(3) == "以下":
            return 0.0, value
        return sales_band_for(value)
    raise CellError(
        "sales_invalid",
        f"年销售额“{raw.strip()}”无法识别：应为数字（万元）或区间，如 50 或 50-100。",
        f'Annual sales "{raw.strip()}" not understood: expected a number (10k CNY) or a band like 50-100.',
    )


def normalise_capacity(raw: str) -> int:
    """Newcomers at once: blank is the default 3, otherwise a whole number 1..20."""
    if not fold(raw):
        return DEFAULT_CAPACITY
    try:
        value = parse_whole_number(
            raw,
            field_zh="可带徒人数",
            field_en="Capacity",
            code="capacity_invalid",
            units="人个名",
            maximum=MAX_CAPACITY,
        )
    except CellError:
        value = -1
    if not 1 <= value <= MAX_CAPACITY:
        raise CellError(
            "capacity_invalid",
            f"可带徒人数“{raw.strip()}”应为 1-{MAX_CAPACITY} 的整数（留空默认 {DEFAULT_CAPACITY}）。",
            f'Capacity "{raw.strip()}" must be a whole number 1-{MAX_CAPACITY} '
            f"(blank means {DEFAULT_CAPACITY}).",
        )
    return value
