"""End-to-end matrix of bad inputs: exact issue codes, and good rows in the same file still come through."""

from __future__ import annotations

import codecs
import io
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from app.imports.read.decoding import RosterFileError
from app.imports.read.reading import open_roster
from tests.imports.conftest import (
    HEADER_EN,
    HEADER_ZH,
    OTHER_TOWNSHIP,
    csv_bytes,
    good_row,
    run_import,
    xlsx_path,
)

# Column positions in HEADER_ZH / good_row.
EXT, NAME, KIND, PHONE, REGION, PRODUCTS, RESOURCES, CAPACITY = range(8)


def with_cell(index: int, value: str) -> list[str]:
    """Row 3 of the test files: good_row(3) with one cell replaced."""
    row = good_row(3)
    row[index] = value
    return row


EXTRA_HEADER = [*HEADER_ZH, "统一社会信用代码", "从业年限", "年销售额（万元）", "员工人数"]


def with_extra(column: str, value: str) -> list[str]:
    """Row 3 for files using EXTRA_HEADER, with one optional column filled."""
    values = dict.fromkeys(EXTRA_HEADER[8:], "")
    values[column] = value
    return good_row(3) + list(values.values())


# (id, header, bad row 3, column, code). Rows 2 and 4 are good in every file.
ROW_CASES: list[tuple[str, list[str], list[str], str, str]] = [
    ("phone", HEADER_ZH, with_cell(PHONE, "1380013800"), "phone", "phone_invalid"),
    ("kind", HEADER_ZH, with_cell(KIND, "学生"), "kind", "kind_invalid"),
    ("name-missing", HEADER_ZH, with_cell(NAME, "  "), "name", "required_missing"),
    ("products", HEADER_ZH, with_cell(PRODUCTS, "榴莲"), "products", "products_none_mapped"),
    ("resources", HEADER_ZH, with_cell(RESOURCES, "资金"), "resources_offered", "resources_invalid"),
    ("capacity", HEADER_ZH, with_cell(CAPACITY, "21"), "capacity", "capacity_invalid"),
    ("region-code", HEADER_ZH, with_cell(REGION, "3717211010"), "region_code", "region_code_invalid"),
    ("outside", HEADER_ZH, with_cell(REGION, OTHER_TOWNSHIP), "region_code", "outside_township"),
    ("1MB-cell", HEADER_ZH, with_cell(NAME, "长" * 1_048_576), "name", "cell_too_long"),
    (
        "credit-check",
        EXTRA_HEADER,
        with_extra("统一社会信用代码", "91350100M000100Y44"),
        "credit_code",
        "credit_code_checksum",
    ),
    (
        "credit-form",
        EXTRA_HEADER,
        with_extra("统一社会信用代码", "9135010"),
        "credit_code",
        "credit_code_invalid",
    ),
    ("years", EXTRA_HEADER, with_extra("从业年限", "三年"), "years_selling", "years_invalid"),
    ("sales", EXTRA_HEADER, with_extra("年销售额（万元）", "很多"), "annual_sales_10k_cny", "sales_invalid"),
    ("employees", EXTRA_HEADER, with_extra("员工人数", "十几个"), "employees", "employees_invalid"),
]


def _padded(row: list[str], header: list[str]) -> list[str]:
    return row + [""] * (len(header) - len(row))


def _file_rows(header: list[str], bad: list[str]) -> list[list[str]]:
    return [_padded(good_row(2), header), bad, _padded(good_row(4), header)]


def _assert_row_case(results: list, column: str, code: str) -> None:
    by_row = {r.row_number: r for r in results}
    assert by_row[2].ok and by_row[4].ok, [r.issues for r in results]
    assert not by_row[3].ok
    assert (column, code) in {(i.column, i.code) for i in by_row[3].issues if i.severity == "error"}


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
@pytest.mark.parametrize(
    ("case_id", "header", "bad", "column", "code"), ROW_CASES, ids=[c[0] for c in ROW_CASES]
)
def test_bad_row_in_csv(
    case_id: str, header: list[str], bad: list[str], column: str, code: str, encoding: str
) -> None:
    if case_id == "1MB-cell" and encoding != "utf-8":
        pytest.skip("one encoding is enough for the 1 MB cell")
    results = run_import(csv_bytes(_file_rows(header, bad), header=header, encoding=encoding))
    _assert_row_case(results, column, code)


@pytest.mark.parametrize(
    ("case_id", "header", "bad", "column", "code"),
    [c for c in ROW_CASES if c[0] != "1MB-cell"],  # Excel caps a cell at 32,767 characters anyway
    ids=[c[0] for c in ROW_CASES if c[0] != "1MB-cell"],
)
def test_bad_row_in_xlsx(
    tmp_path: Path, case_id: str, header: list[str], bad: list[str], column: str, code: str
) -> None:
    path = xlsx_path(tmp_path, _file_rows(header, bad), header=header)
    _assert_row_case(run_import(path, filename="roster.xlsx"), column, code)


NAME_HEADER = [h for h in HEADER_EN if h != "region_code"] + ["province", "prefecture", "county", "township"]


def _named(n: int, county: str, township: str) -> list[str]:
    row = good_row(n)
    del row[REGION]
    return [*row, "", "", county, township]


@pytest.mark.parametrize(
    ("township", "county", "code"),
    [("城关镇", "", "region_ambiguous"), ("不存在镇", "曹县", "region_not_found")],
)
def test_bad_region_names(township: str, county: str, code: str) -> None:
    rows = [_named(2, "曹县", "大集镇"), _named(3, county, township), _named(4, "", "大集镇")]
    _assert_row_case(run_import(csv_bytes(rows, header=NAME_HEADER)), "township", code)


def _junk() -> bytes:
    return random.Random(7).randbytes(4096)


def _latin1() -> bytes:
    # "é," is invalid in both UTF-8 and GB18030 (0xE9 0x2C); "ü" alone would pass as GB18030.
    row = ["E1", "José", "household", "13800138000", "371721101", "apple", "tech", ""]
    return csv_bytes([row], header=HEADER_EN, encoding="latin-1")


def _mixed() -> bytes:
    # Valid UTF-8 for well over one 64 KB chunk, then a GBK line: refused with its position.
    return csv_bytes([good_row(n) for n in range(2, 3000)]) + "张三,".encode("gbk") + b"\r\n"


def _nul() -> bytes:
    return csv_bytes([good_row(2)]).replace(b"13800000002", b"138\x0000000002")


def _truncated(tmp_path: Path) -> bytes:
    data = xlsx_path(tmp_path, [good_row(n) for n in range(100)]).read_bytes()
    return data[: len(data) * 2 // 3]


FILE_CASES: list[tuple[str, Callable[[Path], bytes], str]] = [
    ("latin-1", lambda _p: _latin1(), "encoding_unsupported"),
    ("nul-byte", lambda _p: _nul(), "binary_content"),
    ("binary-junk", lambda _p: _junk(), "binary_content"),
    ("xls", lambda _p: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512), "xls_corrupt"),
    ("truncated-xlsx", _truncated, "xlsx_corrupt"),
    (
        "10000-columns",
        lambda _p: csv_bytes([good_row(2)], header=HEADER_ZH + [f"c{i}" for i in range(10_000)]),
        "too_many_columns",
    ),
    ("missing-column", lambda _p: csv_bytes([good_row(2)[:4]], header=HEADER_ZH[:4]), "missing_columns"),
    (
        "duplicate-header",
        lambda _p: csv_bytes([good_row(2)], header=[*HEADER_ZH[:-1], "名称"]),
        "duplicate_header",
    ),
    ("empty", lambda _p: b"\r\n\r\n", "file_empty"),
    ("mixed-encoding", lambda _p: _mixed(), "encoding_invalid_byte"),
]


@pytest.mark.parametrize(("case_id", "build", "code"), FILE_CASES, ids=[c[0] for c in FILE_CASES])
def test_bad_file(tmp_path: Path, case_id: str, build: Callable[[Path], bytes], code: str) -> None:
    with pytest.raises(RosterFileError) as caught:
        run_import(build(tmp_path), filename="roster.xlsx" if "xlsx" in case_id else "roster.csv")
    assert caught.value.code == code
    assert caught.value.message_zh and caught.value.message_en


def test_good_rows_before_a_late_encoding_error_were_already_streamed() -> None:
    # The caller sees them, which is why the service must finish a dry run before applying.
    seen = 0
    with pytest.raises(RosterFileError), open_roster(io.BytesIO(_mixed())) as reader:
        for _row in reader:
            seen += 1
    assert seen > 1000


def test_unknown_column_reported_and_rows_still_import() -> None:
    header = ["序号", *HEADER_ZH, "微信号"]
    data = csv_bytes([["1", *good_row(2), "wx1"], ["2", *good_row(3), "wx2"]], header=header)
    with open_roster(io.BytesIO(data)) as reader:
        assert reader.unknown_columns == ("序号", "微信号")
        assert [row.row_number for row in reader] == [2, 3]


def test_trailing_empty_rows_ignored_in_csv_and_xlsx(tmp_path: Path) -> None:
    empty = [""] * len(HEADER_ZH)
    csv_data = csv_bytes([good_row(2), good_row(3), *([empty] * 50)], encoding="utf-8-sig")
    assert [r.row_number for r in run_import(csv_data)] == [2, 3]
    path = xlsx_path(tmp_path, [good_row(2), good_row(3), *([[None] * 8] * 50)])
    assert [r.row_number for r in run_import(path)] == [2, 3]


def test_bom_and_gbk_give_identical_rows() -> None:
    rows = [good_row(2), good_row(3)]
    utf8 = run_import(codecs.BOM_UTF8 + csv_bytes(rows))
    gbk = run_import(csv_bytes(rows, encoding="gbk"))
    assert [r.row for r in utf8] == [r.row for r in gbk]
    assert all(r.ok for r in utf8)
