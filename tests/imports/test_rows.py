"""validate_row, row_key and iter_validated on hand-built raw rows."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.imports.read.reading import RawRow
from app.imports.validate.keys import row_key
from app.imports.validate.rows import RosterRow, RowIssue, ValidatedRow, validate_row
from tests.imports.conftest import OFFICE_TOWNSHIP, fake_map_product, fake_resolve_region, validate_all

BASE = {
    "external_id": "E001",
    "name": " 张三家庭农场 ",
    "kind": "家庭农场",
    "phone": "+86 138-0013-8000",
    "region_code": "371721101203",
    "products": "苹果、梨",
    "channels": "淘宝/天猫、抖音",
    "years_selling": "3年",
    "annual_sales_10k_cny": "约50",
    "employees": "12人",
    "resources_offered": "技术，物流",
    "capacity": "",
    "honours": "电商示范户、淘宝村带头人",
    "notes": " 经营苹果十年 ",
}


def ok(raw: dict[str, str], **kwargs: Any) -> RosterRow:
    """Validate expecting success."""
    result = validate_row(7, raw, **kwargs)
    assert isinstance(result, RosterRow), result
    return result


def issues(raw: dict[str, str], **kwargs: Any) -> list[RowIssue]:
    """Validate expecting rejection."""
    result = validate_row(7, raw, **kwargs)
    assert isinstance(result, list), result
    assert all(issue.row_number == 7 for issue in result)
    return result


def test_full_row_normalised(validate_kwargs: dict[str, Any]) -> None:
    row = ok(BASE, **validate_kwargs)
    assert row == RosterRow(
        row_number=7,
        external_id="E001",
        credit_code=None,
        name="张三家庭农场",
        kind="household",
        contact_name=None,
        phone="13800138000",
        region_code="371721101203",
        township_code="371721101",
        products=("fruit.apple", "fruit.pear"),
        channels=("taobao", "douyin"),
        years_selling=3,
        sales_band_min=50.0,
        sales_band_max=100.0,
        employees=12,
        resources_offered=("technology", "logistics"),
        capacity=3,
        honours=("电商示范户", "淘宝村带头人"),
        notes="经营苹果十年",
        warnings=(),
    )


def test_all_errors_of_a_row_are_collected(validate_kwargs: dict[str, Any]) -> None:
    raw = {**BASE, "phone": "12345", "kind": "学生", "capacity": "50", "credit_code": "91350100M000100Y44"}
    found = issues(raw, **validate_kwargs)
    assert {(i.column, i.code) for i in found} == {
        ("phone", "phone_invalid"),
        ("kind", "kind_invalid"),
        ("capacity", "capacity_invalid"),
        ("credit_code", "credit_code_checksum"),
    }
    phone = next(i for i in found if i.column == "phone")
    assert phone.original_value == "12345" and phone.severity == "error"
    assert phone.message_zh and phone.message_en


def test_required_cells(validate_kwargs: dict[str, Any]) -> None:
    raw = {**BASE, "name": " ", "products": "", "resources_offered": "", "region_code": ""}
    found = issues(raw, **validate_kwargs)
    assert {(i.column, i.code) for i in found} == {
        ("name", "required_missing"),
        ("products", "required_missing"),
        ("resources_offered", "required_missing"),
        ("region_code", "required_missing"),
    }


def test_warnings_kept_on_valid_row(validate_kwargs: dict[str, Any]) -> None:
    raw = {
        **BASE,
        "phone": "13800138000/13900139000",
        "products": "苹果 榴莲",
        "channels": "微店",
        "years_selling": "2.5",
    }
    row = ok(raw, **validate_kwargs)
    assert row.products == ("fruit.apple",) and row.years_selling == 2
    assert {(w.column, w.code, w.severity) for w in row.warnings} == {
        ("phone", "phone_multiple", "warning"),
        ("products", "product_unmapped", "warning"),
        ("channels", "channel_unknown", "warning"),
        ("years_selling", "years_rounded_down", "warning"),
    }


def test_warnings_reported_with_errors(validate_kwargs: dict[str, Any]) -> None:
    found = issues({**BASE, "products": "苹果 榴莲", "kind": ""}, **validate_kwargs)
    assert {(i.code, i.severity) for i in found} == {
        ("product_unmapped", "warning"),
        ("required_missing", "error"),
    }


def test_region_by_names(validate_kwargs: dict[str, Any]) -> None:
    raw = {
        **BASE,
        "region_code": "",
        "province": "山东省",
        "prefecture": "菏泽市",
        "county": "曹县",
        "township": "大集镇",
    }
    row = ok(raw, **validate_kwargs)
    assert row.region_code == row.township_code == "371721101"


def test_region_names_ambiguous_lists_candidates() -> None:
    raw = {**BASE, "region_code": "", "township": "城关镇"}
    found = issues(
        raw, map_product=fake_map_product, resolve_region=fake_resolve_region, office_township=None
    )
    assert [(i.column, i.code) for i in found] == [("township", "region_ambiguous")]
    assert "371721103" in found[0].message_zh and "410327101" in found[0].message_en


def test_ambiguous_names_settled_by_office_township(validate_kwargs: dict[str, Any]) -> None:
    row = ok(
        {**BASE, "region_code": "", "township": "城关镇"},
        **{**validate_kwargs, "office_township": "371721103"},
    )
    assert row.township_code == "371721103"


def test_region_names_not_found(validate_kwargs: dict[str, Any]) -> None:
    found = issues({**BASE, "region_code": "", "county": "曹县", "township": "不存在镇"}, **validate_kwargs)
    assert [i.code for i in found] == ["region_not_found"]


def test_outside_office_township(validate_kwargs: dict[str, Any]) -> None:
    found = issues({**BASE, "region_code": "371721102"}, **validate_kwargs)
    assert [(i.column, i.code, i.original_value) for i in found] == [
        ("region_code", "outside_township", "371721102")
    ]


def test_admin_import_takes_township_from_row() -> None:
    row = ok(
        {**BASE, "region_code": "410327101"}, map_product=fake_map_product, resolve_region=fake_resolve_region
    )
    assert row.township_code == "410327101"


def test_cell_too_long_reported_once(validate_kwargs: dict[str, Any]) -> None:
    found = issues({**BASE, "name": "长" * 10_001}, **validate_kwargs)
    assert [(i.column, i.code) for i in found] == [("name", "cell_too_long")]
    assert len(found[0].original_value) <= 201


def test_row_key_order(validate_kwargs: dict[str, Any]) -> None:
    with_ext = ok({**BASE, "credit_code": "91350100M000100Y43"}, **validate_kwargs)
    assert row_key(with_ext, OFFICE_TOWNSHIP) == ("ext", OFFICE_TOWNSHIP, "E001")
    assert row_key(with_ext, None) == ("ext", "371721101", "E001")
    no_ext = ok({**BASE, "external_id": "", "credit_code": "91350100m000100y43"}, **validate_kwargs)
    assert row_key(no_ext, OFFICE_TOWNSHIP) == ("credit", "91350100M000100Y43")
    bare = ok({**BASE, "external_id": ""}, **validate_kwargs)
    assert row_key(bare, OFFICE_TOWNSHIP) == ("phone", "13800138000")


def test_full_width_external_id_is_the_same_key(validate_kwargs: dict[str, Any]) -> None:
    assert ok({**BASE, "external_id": "Ｅ００１"}, **validate_kwargs).external_id == "E001"


def _validated(rows: list[dict[str, str]]) -> list[ValidatedRow]:
    return validate_all([RawRow(n, raw) for n, raw in enumerate(rows, start=2)])


def test_every_row_of_a_duplicated_key_is_rejected() -> None:
    other = {**BASE, "external_id": "E002", "phone": "13900139000"}
    results = _validated([BASE, other, {**BASE, "name": "改名"}, {**BASE, "external_id": " E001 "}])
    assert [r.ok for r in results] == [False, True, False, False]
    for duplicate in (results[0], *results[2:]):
        (issue,) = duplicate.issues
        assert issue.code == "duplicate_key_in_file" and issue.column == "external_id"
        assert "Rows 2, 4, 5" in issue.message_en and "第 2、4、5 行" in issue.message_zh


def test_duplicate_outcome_does_not_depend_on_row_order() -> None:
    rows = [BASE, {**BASE, "name": "改名"}, {**BASE, "external_id": "E002", "phone": "13900139000"}]
    forward = [(r.ok, [i.code for i in r.issues]) for r in _validated(rows)]
    backward = [(r.ok, [i.code for i in r.issues]) for r in _validated(rows[::-1])]
    assert forward == backward[::-1]
    assert [ok for ok, _codes in forward] == [False, False, True]


def test_duplicate_phone_key_when_no_other_key() -> None:
    results = _validated([{**BASE, "external_id": ""}, {**BASE, "external_id": "", "phone": "138 0013 8000"}])
    assert [r.ok for r in results] == [False, False]
    assert results[1].issues[0].code == "duplicate_key_in_file" and results[1].issues[0].column == "phone"


def test_a_credit_code_on_two_external_ids_rejects_both() -> None:
    credit = "91350100M000100Y43"
    rows = [{**BASE, "credit_code": credit}, {**BASE, "external_id": "E009", "phone": "13900139000",
            "credit_code": credit.lower()}]  # fmt: skip
    results = _validated(rows)
    assert [r.ok for r in results] == [False, False]
    assert {i.column for r in results for i in r.issues} == {"credit_code"}


def test_a_row_with_other_errors_still_counts_for_a_shared_key() -> None:
    results = _validated([BASE, {**BASE, "kind": "学生"}])
    assert [r.ok for r in results] == [False, False]
    assert [i.code for i in results[0].issues] == ["duplicate_key_in_file"]


@st.composite
def messy_row(draw: st.DrawFn) -> tuple[dict[str, str], str, int]:
    """BASE with a messy phone, capacity and region code, plus the canonical phone and capacity."""
    phone = draw(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
    capacity = draw(st.integers(1, 20))
    wide = str.maketrans("0123456789", "０１２３４５６７８９")
    prefix = draw(st.sampled_from(["", "+86 ", "0086-", "tel:"]))
    spaced = draw(
        st.sampled_from([phone, f"{phone[:3]} {phone[3:7]} {phone[7:]}", f"{phone[:3]}-{phone[3:]}"])
    )
    pad = draw(st.sampled_from(["", " ", "\u3000"]))
    raw = {
        **BASE,
        "phone": pad + prefix + (spaced.translate(wide) if draw(st.booleans()) else spaced) + pad,
        "capacity": pad + (str(capacity).translate(wide) if draw(st.booleans()) else str(capacity)) + pad,
        "region_code": pad + "371721101203".translate(wide) + pad,
    }
    return raw, phone, capacity


@given(messy_row())
def test_messy_rows_normalise_to_canonical(case: tuple[dict[str, str], str, int]) -> None:
    raw, phone, capacity = case
    row = validate_row(
        3,
        raw,
        map_product=fake_map_product,
        resolve_region=fake_resolve_region,
        office_township=OFFICE_TOWNSHIP,
    )
    assert isinstance(row, RosterRow)
    assert (row.phone, row.capacity, row.region_code, row.township_code) == (
        phone,
        capacity,
        "371721101203",
        OFFICE_TOWNSHIP,
    )


@pytest.mark.parametrize("office", [OFFICE_TOWNSHIP, None])
def test_validation_is_pure_and_repeatable(office: str | None) -> None:
    kwargs: dict[str, Any] = {
        "map_product": fake_map_product,
        "resolve_region": fake_resolve_region,
        "office_township": office,
    }
    assert validate_row(2, BASE, **kwargs) == validate_row(2, dict(BASE), **kwargs)


@pytest.mark.parametrize(("column", "limit"), [("external_id", 64), ("name", 128), ("contact_name", 64)])
def test_a_value_longer_than_its_column_is_refused_not_cut(
    validate_kwargs: dict[str, Any], column: str, limit: int
) -> None:
    # Cut when stored, two ids alike up to the cut were one seller (one overwrote the other).
    assert ok({**BASE, column: "甲" * limit}, **validate_kwargs)
    found = issues({**BASE, column: "甲" * (limit + 1)}, **validate_kwargs)
    assert [(i.column, i.code, i.severity) for i in found] == [(column, "value_too_long", "error")]


@pytest.mark.parametrize("employees", ["1000001", "30000000000", "99999999999999999999"])
def test_employees_beyond_the_bound_are_refused(validate_kwargs: dict[str, Any], employees: str) -> None:
    # A 20-digit number passed the dry run and then overflowed the integer column when applied.
    assert ok({**BASE, "employees": "1000000"}, **validate_kwargs).employees == 1_000_000
    found = issues({**BASE, "employees": employees}, **validate_kwargs)
    assert [(i.column, i.code) for i in found] == [("employees", "employees_invalid")]
