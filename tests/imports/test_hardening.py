"""Roster-import defects from the hardening review: formula cells, header-only files, group words."""

from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl
import pytest

from tests.imports.conftest import API_HEADER, HEADER_ZH, ZHAXIA, api_row, csv_bytes, good_row, run_import
from tests.imports.test_api import imported, mentors_in


def _formula_workbook(tmp_path: Path) -> Path:
    """A workbook written by a program (openpyxl): formulas are stored without a computed value."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(HEADER_ZH)
    sheet.append(good_row(2))
    name_formula = good_row(3)
    name_formula[1] = '="示范户"&"3"'
    sheet.append(name_formula)
    capacity_formula = good_row(4)
    capacity_formula[7] = "=1+1"
    sheet.append(capacity_formula)
    path = tmp_path / "formulas.xlsx"
    workbook.save(path)
    return path


def test_formula_without_value_has_its_own_code(tmp_path: Path) -> None:
    results = {r.row_number: r for r in run_import(_formula_workbook(tmp_path), filename="f.xlsx")}
    assert results[2].ok
    for row, column in ((3, "name"), (4, "capacity")):
        assert not results[row].ok
        codes = {(i.column, i.code) for i in results[row].issues}
        assert codes == {(column, "formula_without_value")}
        issue = results[row].issues[0]
        assert "公式" in issue.message_zh and "Excel" in issue.message_zh
        assert "formula" in issue.message_en and "save" in issue.message_en


def test_formula_with_a_cached_value_is_read_as_its_value(tmp_path: Path) -> None:
    # Excel stores <f> and <v> together; the cached value is what the person saw.
    path = _formula_workbook(tmp_path)

    patched = tmp_path / "cached.xlsx"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(patched, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename.startswith("xl/worksheets/sheet"):
                assert b"<f>1+1</f><v /></c>" in data
                data = data.replace(b"<f>1+1</f><v /></c>", b"<f>1+1</f><v>2</v></c>")
            target.writestr(info, data)
    results = {r.row_number: r for r in run_import(patched, filename="c.xlsx")}
    assert results[4].ok and results[4].row is not None and results[4].row.capacity == 2
    assert not results[3].ok


def test_formula_rows_through_the_api(client, make_user, run_jobs, db, tmp_path: Path) -> None:
    office = make_user("township_office", ZHAXIA)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(API_HEADER)
    sheet.append(api_row(2))
    formula = api_row(3)
    formula[1] = "=B2"
    sheet.append(formula)
    path = tmp_path / "api.xlsx"
    workbook.save(path)
    status = imported(client, office, run_jobs, path.read_bytes())
    assert status["status"] == "done" and status["counts"]["rejected"] == 1
    issues = client.get(status["errors_url"], headers=office.headers).json()["items"]
    assert [(i["row_number"], i["column"], i["code"]) for i in issues] == [
        (3, "name", "formula_without_value")
    ]
    assert [m.external_id for m in mentors_in(db)] == ["E00002"]


@pytest.mark.parametrize(
    "content",
    [
        csv_bytes([], header=API_HEADER),
        csv_bytes([[""] * len(API_HEADER), [""] * len(API_HEADER)], header=API_HEADER),
        csv_bytes([], header=API_HEADER, encoding="gbk"),
    ],
    ids=["header-only", "blank-rows", "gbk-header-only"],
)
@pytest.mark.parametrize("on_error", ["skip_row", "reject_file"])
@pytest.mark.parametrize("dry_run", [False, True])
def test_header_without_data_rows_fails_with_a_clear_code(
    client, make_user, run_jobs, db, content: bytes, on_error: str, dry_run: bool
) -> None:
    office = make_user("township_office", ZHAXIA)
    status = imported(client, office, run_jobs, content, on_error=on_error, dry_run=dry_run)
    assert status["status"] == "failed"
    assert status["error"]["code"] == "no_data_rows"
    assert "没有数据行" in status["error"]["message_zh"] and "no data rows" in status["error"]["message_en"]
    assert status["counts"] == {"created": 0, "updated": 0, "unchanged": 0, "rejected": 0}
    assert mentors_in(db) == []


def _validate_products(products: str):  # type: ignore[no-untyped-def]
    from app.imports.validate.products import product_group
    from app.imports.validate.rows import validate_row
    from matching.taxonomy import lookup_product
    from tests.imports.conftest import fake_resolve_region

    raw = dict(zip(("external_id", "name", "kind", "phone", "region_code", "products", "resources_offered",
                    "capacity"), good_row(2), strict=True))  # fmt: skip
    raw["products"] = products
    return validate_row(
        2, raw, map_product=lookup_product, map_group=product_group, resolve_region=fake_resolve_region
    )


@pytest.mark.parametrize(
    ("word", "group"), [("花卉", "花卉苗木"), ("水产品", "水产"), ("花卉苗木", "花卉苗木")]
)
def test_a_group_word_alone_rejects_the_row_naming_the_group(word: str, group: str) -> None:
    issues = _validate_products(word)
    assert isinstance(issues, list)
    (issue,) = issues
    assert issue.code == "products_only_group" and issue.column == "products"
    assert f"“{word}”" in issue.message_zh and f"“{group}”" in issue.message_zh
    assert "group" in issue.message_en


def test_a_group_word_beside_a_category_warns_and_keeps_the_category() -> None:
    row = _validate_products("花卉、玫瑰")
    assert not isinstance(row, list)
    assert row.products == ("flowers.cut",)
    (warning,) = row.warnings
    assert warning.code == "product_is_group" and warning.severity == "warning"
    assert "花卉苗木" in warning.message_zh and "鲜切花" in warning.message_zh


@pytest.mark.parametrize(
    ("word", "leaf"), [("茶叶", "tea.growing"), ("水果", "fruit.orchard"), ("鲜花", "flowers.cut")]
)
def test_words_that_name_a_category_still_map_to_it(word: str, leaf: str) -> None:
    row = _validate_products(word)
    assert not isinstance(row, list) and row.products == (leaf,) and row.warnings == ()


def test_group_words_through_the_api(client, make_user, run_jobs, db) -> None:
    office = make_user("township_office", ZHAXIA)
    rows = [api_row(2, products="花卉"), api_row(3, products="花卉、盆景")]
    status = imported(client, office, run_jobs, csv_bytes(rows, header=API_HEADER))
    assert status["counts"]["rejected"] == 1 and status["counts"]["created"] == 1
    issues = client.get(status["errors_url"], headers=office.headers).json()["items"]
    by_row = {i["row_number"]: i for i in issues}
    assert by_row[2]["code"] == "products_only_group" and "花卉苗木" in by_row[2]["message_zh"]
    assert by_row[3]["code"] == "product_is_group" and by_row[3]["severity"] == "warning"


def test_an_honour_the_service_awards_is_not_imported(client, make_user, run_jobs, db) -> None:
    office = make_user("township_office", ZHAXIA)
    header = [*API_HEADER, "荣誉"]
    # The traditional spelling is the same title to whoever reads the profile.
    rows = [[*api_row(2), "电商示范户、带徒标兵、好評導師"]]
    status = imported(client, office, run_jobs, csv_bytes(rows, header=header))
    assert status["counts"]["created"] == 1
    issues = client.get(status["errors_url"], headers=office.headers).json()["items"]
    assert [(i["code"], i["severity"]) for i in issues] == [("honour_title_reserved", "warning")]
    assert "带徒标兵、好評導師" in issues[0]["message_zh"]
    assert [m.honours for m in mentors_in(db)] == [["电商示范户"]]
