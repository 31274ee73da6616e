"""Header mapping: names in either language, any case or width, any order."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.imports.read.decoding import RosterFileError
from app.imports.read.headers import HEADER_NAMES, field_for_header, looks_like_title, map_headers
from tests.imports.conftest import HEADER_EN, HEADER_ZH


def test_chinese_and_english_headers_map_alike() -> None:
    zh = map_headers(HEADER_ZH)
    en = map_headers(HEADER_EN)
    assert zh.columns == en.columns
    assert zh.unknown_columns == ()


@pytest.mark.parametrize(
    ("header", "field"),
    [
        (" 手机号 ", "phone"),
        ("PHONE", "phone"),
        ("External ID", "external_id"),
        ("external-id", "external_id"),
        ("年销售额（万元）", "annual_sales_10k_cny"),
        ("年销售额 (万元)", "annual_sales_10k_cny"),
        ("*名称", "name"),
        ("ｎａｍｅ", "name"),
        ("\u3000行政区划代码\u3000", "region_code"),
    ],
)
def test_header_spellings(header: str, field: str) -> None:
    assert field_for_header(header) == field


@given(st.sampled_from([(f, n) for f, names in HEADER_NAMES.items() for n in names]), st.data())
def test_any_case_and_padding(pair: tuple[str, str], data: st.DataObject) -> None:
    field, name = pair
    cased = "".join(c.upper() if data.draw(st.booleans()) else c for c in name)
    pad = data.draw(st.sampled_from(["", " ", "\u3000", "  \t"]))
    assert field_for_header(pad + cased + pad) == field


def test_column_order_free_and_unknown_reported() -> None:
    header = ["序号", *reversed(HEADER_ZH), "", "微信号"]
    mapped = map_headers(header)
    assert mapped.unknown_columns == ("序号", "微信号")
    assert mapped.columns[1] == "capacity"
    row = mapped.apply(["1", "3", "技术"])
    assert row["capacity"] == "3" and row["resources_offered"] == "技术" and row["name"] == ""


def test_missing_required_columns_listed() -> None:
    with pytest.raises(RosterFileError) as caught:
        map_headers(["名称", "手机号"])
    error = caught.value
    assert error.code == "missing_columns"
    for label in ("类型", "主营产品", "可分享资源", "行政区划代码"):
        assert label in error.message_zh
    assert "kind" in error.message_en and "region_code" in error.message_en


def test_region_names_instead_of_code() -> None:
    header = [h for h in HEADER_ZH if h != "行政区划代码"] + ["省", "市", "县", "乡镇"]
    assert {"province", "prefecture", "county", "township"} <= map_headers(header).fields()
    with pytest.raises(RosterFileError) as caught:
        map_headers([h for h in header if h != "县"])
    assert caught.value.code == "missing_columns" and "县" in caught.value.message_zh


def test_duplicate_header_is_a_file_error() -> None:
    with pytest.raises(RosterFileError) as caught:
        map_headers([*HEADER_ZH, "Phone"])
    assert caught.value.code == "duplicate_header" and "手机号 / Phone" in caught.value.message_zh


def test_title_banner_detection() -> None:
    assert looks_like_title(["曹县大集镇电商示范户名单", "", ""])
    assert not looks_like_title(["名称"])
    assert not looks_like_title(HEADER_ZH)
