"""Cell normalisers: examples, and hypothesis round-trips from messy text to canonical values."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.imports.validate.codes import credit_check_char, normalise_credit_code, normalise_region_code
from app.imports.validate.normalise import (
    CellError,
    clean_text,
    fold,
    is_blank,
    memoised,
    memoised_warned,
    normalise_capacity,
    normalise_channels,
    normalise_kind,
    normalise_phone,
    normalise_products,
    normalise_resources,
    normalise_sales,
    normalise_years,
    sales_band_for,
    split_list,
)
from matching.vocab import CHANNELS, MENTOR_KINDS, RESOURCE_TYPES, SALES_BANDS
from tests.imports.conftest import fake_map_product

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def code_of(call: object, *args: object) -> str:
    """Run a normaliser expected to fail and return its issue code."""
    assert callable(call)
    with pytest.raises(CellError) as caught:
        call(*args)
    return caught.value.problem.code


# ---------------------------------------------------------------- phone


@pytest.mark.parametrize(
    "raw",
    [
        "13800138000",
        " 13800138000 ",
        "138 0013 8000",
        "138-0013-8000",
        "+86 138 0013 8000",
        "+8613800138000",
        "(+86) 13800138000",
        "0086-138-0013-8000",
        "8613800138000",
        "tel:+86-138-0013-8000",
        "手机：13800138000",
        "１３８００１３８０００",
        "13800138000.0",
    ],
)
def test_phone_forms(raw: str) -> None:
    assert normalise_phone(raw) == ("13800138000", [])


@pytest.mark.parametrize(
    "raw",
    [
        "13800138000/13900139000",
        "13800138000、13900139000",
        "13800138000 13900139000",
        "13800138000或13900139000",
    ],
)
def test_phone_several_keeps_first_and_warns(raw: str) -> None:
    phone, warnings = normalise_phone(raw)
    assert phone == "13800138000"
    assert [w.code for w in warnings] == ["phone_multiple"]
    assert "13900139000" in warnings[0].message_en


def test_phone_landline_then_mobile_keeps_the_mobile() -> None:
    phone, warnings = normalise_phone("0530-1234567/13800138000")
    assert phone == "13800138000" and warnings[0].code == "phone_multiple"


@pytest.mark.parametrize(
    "raw",
    ["12800138000", "1380013800", "138001380001", "+1 13800138000", "abc13800138000", "0530-1234567", "138"],
)
def test_phone_invalid(raw: str) -> None:
    assert code_of(normalise_phone, raw) == "phone_invalid"


mobiles = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)


@st.composite
def messy_phone(draw: st.DrawFn) -> tuple[str, str]:
    """A canonical mobile and a messy rendering of it."""
    phone = draw(mobiles)
    prefix = draw(
        st.sampled_from(["", "+86", "+86 ", "0086", "0086-", "86", "(+86)", "tel:", "tel:+86-", "手机:"])
    )
    cuts = sorted(draw(st.sets(st.integers(1, 10), max_size=3)))
    pieces = [phone[a:b] for a, b in zip([0, *cuts], [*cuts, 11], strict=True)]
    joiner = draw(st.sampled_from([" ", "-", "", " - ", "\u3000"]))
    body = joiner.join(pieces)
    if draw(st.booleans()):
        body = body.translate(FULL_WIDTH)
    pad = draw(st.sampled_from(["", " ", "\u3000", "\t"]))
    return phone, f"{pad}{prefix}{body}{pad}"


@given(messy_phone())
def test_phone_round_trip(case: tuple[str, str]) -> None:
    phone, messy = case
    assert normalise_phone(messy) == (phone, [])


# ---------------------------------------------------------------- vocabularies


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ("农户", "household"),
        ("个体户", "household"),
        ("个体工商户", "household"),
        ("家庭农场", "household"),
        ("种植大户", "household"),
        ("合作社", "cooperative"),
        ("农民专业合作社", "cooperative"),
        ("企业", "enterprise"),
        ("公司", "enterprise"),
        ("有限责任公司", "enterprise"),
        (" Household ", "household"),
        ("Co-op", "cooperative"),
        ("Company", "enterprise"),
    ],
)
def test_kind(raw: str, kind: str) -> None:
    assert normalise_kind(raw) == kind
    assert kind in MENTOR_KINDS


def test_kind_unknown() -> None:
    assert code_of(normalise_kind, "学生") == "kind_invalid"


def test_channels_map_to_vocab_and_warn_on_unknown() -> None:
    codes, warnings = normalise_channels("淘宝/天猫、拼多多，京东;抖音直播 快手 视频号 微店")
    assert codes == ("taobao", "pinduoduo", "jd", "douyin", "kuaishou", "wechat")
    assert set(codes) <= set(CHANNELS)
    assert [w.code for w in warnings] == ["channel_unknown"] and "微店" in warnings[0].message_zh


def test_resources_chinese_english_and_unknown() -> None:
    codes, warnings = normalise_resources("信息、技术 Human Capital，物流；资金")
    assert codes == ("information", "technology", "human_capital", "logistics")
    assert set(codes) <= set(RESOURCE_TYPES)
    assert [w.code for w in warnings] == ["resource_unknown"]
    assert normalise_resources("人才")[0] == ("human_capital",)
    assert code_of(normalise_resources, "资金") == "resources_invalid"


def test_products_mapped_unmapped_and_none() -> None:
    assert normalise_products("苹果、梨，苹果", fake_map_product) == (("fruit.apple", "fruit.pear"), [])
    codes, warnings = normalise_products("苹果/榴莲", fake_map_product)
    assert codes == ("fruit.apple",) and [w.code for w in warnings] == ["product_unmapped"]
    assert code_of(normalise_products, "榴莲 山竹", fake_map_product) == "products_none_mapped"


separators = st.sampled_from(["、", "，", ",", ";", "；", "/", " ", "\u3000", " 、 "])


@given(st.lists(st.sampled_from(["苹果", "梨", "猕猴桃", "茶叶"]), min_size=1, max_size=6), st.data())
def test_split_list_any_separators(items: list[str], data: st.DataObject) -> None:
    text = "".join(item + data.draw(separators) for item in items)
    assert split_list(text) == list(dict.fromkeys(items))


# ---------------------------------------------------------------- numbers


@pytest.mark.parametrize(("raw", "years"), [("3", 3), ("3年", 3), ("３年", 3), (" 3 年 ", 3), ("3年以上", 3)])
def test_years(raw: str, years: int) -> None:
    assert normalise_years(raw) == (years, [])


def test_years_fraction_rounds_down_with_warning() -> None:
    years, warnings = normalise_years("3.5年")
    assert years == 3 and [w.code for w in warnings] == ["years_rounded_down"]


@pytest.mark.parametrize("raw", ["三年", "3-5年", "-1", "200", "很久"])
def test_years_invalid(raw: str) -> None:
    assert code_of(normalise_years, raw) == "years_invalid"


@pytest.mark.parametrize(
    ("raw", "band"),
    [
        ("约50", (50.0, 100.0)),
        ("50", (50.0, 100.0)),
        ("５", (0.0, 10.0)),
        ("50-100", (50.0, 100.0)),
        ("50～100", (50.0, 100.0)),
        ("50到100", (50.0, 100.0)),
        ("50万-100万", (50.0, 100.0)),
        ("30-80", (30.0, 80.0)),
        ("1000以上", (1000.0, None)),
        ("1,200", (1000.0, None)),
        ("1.5亿", (1000.0, None)),
    ],
)
def test_sales(raw: str, band: tuple[float, float | None]) -> None:
    assert normalise_sales(raw) == band


@pytest.mark.parametrize("raw", ["很多", "100-50", "-5", "50%"])
def test_sales_invalid(raw: str) -> None:
    assert code_of(normalise_sales, raw) == "sales_invalid"


@given(st.floats(min_value=0, max_value=5000, allow_nan=False))
def test_every_amount_has_exactly_its_vocab_band(value: float) -> None:
    low, high = sales_band_for(value)
    assert (low, high) in {(float(lo), None if hi is None else float(hi)) for _c, lo, hi in SALES_BANDS}
    assert low <= value and (high is None or value < high)


@pytest.mark.parametrize(
    ("raw", "capacity"), [("", 3), ("  ", 3), ("1", 1), ("20", 20), ("５人", 5), ("4.0", 4)]
)
def test_capacity(raw: str, capacity: int) -> None:
    assert normalise_capacity(raw) == capacity


@pytest.mark.parametrize("raw", ["0", "21", "2.5", "很多", "-1"])
def test_capacity_invalid(raw: str) -> None:
    assert code_of(normalise_capacity, raw) == "capacity_invalid"


@given(st.integers(0, 80), st.sampled_from(["{}", "{}年", " {} 年", "{}年以上", "约{}年"]), st.booleans())
def test_years_round_trip(years: int, pattern: str, wide: bool) -> None:
    text = pattern.format(years)
    assert normalise_years(text.translate(FULL_WIDTH) if wide else text) == (years, [])


# ---------------------------------------------------------------- codes

# Codes of well-known enterprises published on their licences; they must all pass.
REAL_CREDIT_CODES = ["9144030071526726XG", "914403001922038216", "91350100M000100Y43", "91110000802100433B"]


@pytest.mark.parametrize("code", REAL_CREDIT_CODES)
def test_credit_code_published_examples_pass(code: str) -> None:
    assert normalise_credit_code(code) == code
    assert normalise_credit_code(f" {code.lower()} ") == code


def test_credit_code_errors() -> None:
    assert code_of(normalise_credit_code, "9144030071526726XH") == "credit_code_checksum"
    assert code_of(normalise_credit_code, "9144030071526726X") == "credit_code_invalid"
    assert code_of(normalise_credit_code, "9144030071526726XO") == "credit_code_invalid"  # O is not allowed


CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
bodies = st.text(alphabet=CREDIT_ALPHABET, min_size=17, max_size=17)


@given(bodies, st.booleans(), st.booleans())
def test_credit_code_round_trip(body: str, lower: bool, wide: bool) -> None:
    code = body + credit_check_char(body)
    messy = code.lower() if lower else code
    if wide:
        messy = messy.translate(FULL_WIDTH)
    assert normalise_credit_code(f"\u3000{messy[:6]} {messy[6:]} ") == code


@given(bodies, st.integers(0, 17), st.sampled_from(CREDIT_ALPHABET))
def test_credit_code_detects_every_single_substitution(body: str, position: int, char: str) -> None:
    code = body + credit_check_char(body)
    mutated = code[:position] + char + code[position + 1 :]
    if mutated != code:
        assert code_of(normalise_credit_code, mutated) == "credit_code_checksum"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("371721101", ("371721101", "371721101")),
        ("371721101203", ("371721101203", "371721101")),
        ("３７１７２１１０１", ("371721101", "371721101")),
        ("371721101.0", ("371721101", "371721101")),
    ],
)
def test_region_code(raw: str, expected: tuple[str, str]) -> None:
    assert normalise_region_code(raw) == expected


@pytest.mark.parametrize("raw", ["371721", "3717211012", "371721000", "991721101", "37172110a"])
def test_region_code_invalid(raw: str) -> None:
    assert code_of(normalise_region_code, raw) == "region_code_invalid"


@given(st.from_regex(r"37[0-9]{4}[1-9][0-9]{2}([0-9]{3})?", fullmatch=True), st.booleans(), st.booleans())
def test_region_code_round_trip(code: str, wide: bool, padded: bool) -> None:
    messy = code.translate(FULL_WIDTH) if wide else code
    if padded:
        messy = f"  {messy}\u3000"
    assert normalise_region_code(messy) == (code, code[:9])


def test_clean_text_keeps_free_text_but_trims() -> None:
    assert clean_text("\u3000张三家庭农场（旗舰店）\u200b \n") == "张三家庭农场（旗舰店）"


@given(st.text(max_size=80))
def test_fold_cache_matches_uncached_fold(raw: str) -> None:
    """fold caches short cells; cached or not, the answer is NFKC, then trimmed and collapsed."""
    expected = clean_text(unicodedata.normalize("NFKC", raw))
    assert fold(raw) == expected
    assert fold(raw) == expected  # a second call is served from the cache for short cells


# Spaces of every kind, zero-width marks, and characters NFKC changes (full-width, ligatures).
_TRICKY = st.sampled_from([" ", "\u3000", "\u00a0", "\u2003", "\t", "\n", "\u200b", "\ufeff", "\u2060",
                           "\u180e", "\u0301", "Ａ", "ﬁ", "①", "a", "农", "\u3164"])  # fmt: skip


@given(st.lists(_TRICKY | st.characters(), max_size=6).map("".join))
def test_is_blank_agrees_with_folding(text: str) -> None:
    assert is_blank(text) == (fold(text) == "")


def test_memoised_normalisers_answer_as_the_plain_ones() -> None:
    kind = memoised(normalise_kind)
    years = memoised_warned(normalise_years)
    products = memoised_warned(normalise_products)
    for _ in range(2):
        assert kind("专业合作社") == normalise_kind("专业合作社") == "cooperative"
        assert years("2.5年") == normalise_years("2.5年")
        assert products("苹果、花木", fake_map_product) == normalise_products("苹果、花木", fake_map_product)
        long_cell = "农户" + " " * 100
        assert kind(long_cell) == "household"  # longer than the memo's cells: normalised each time
        with pytest.raises(CellError):
            kind("不知道")  # errors are raised on every call, not remembered
    first, second = years("2.5年"), years("2.5年")
    assert first[1] and first[1] is not second[1]  # each caller gets its own warnings list


@pytest.mark.parametrize(
    "mark", list("\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
)
def test_bidi_marks_are_invisible_like_zero_width_ones(mark: str) -> None:
    # Text copied from a web page carries them; "138<LRM>00138006" looked valid and was rejected.
    assert normalise_phone(f"{mark}138{mark}0013{mark}8006")[0] == "13800138006"
    assert clean_text(f"{mark}示范{mark}户 ") == "示范户"
    assert is_blank(f" {mark} ")
