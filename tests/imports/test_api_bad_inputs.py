"""Bad inputs through the API and the job: the exact row report, and no good row lost or half-written."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from app.jobs.handlers import HANDLERS
from app.jobs.worker import Worker
from app.models import Mentor, MentorProduct, RosterImport
from tests.imports.conftest import API_HEADER, DAJI, ZHAXIA, api_row, csv_bytes

CREDIT_HEADER = [*API_HEADER, "统一社会信用代码", "从业年限", "年销售额（万元）", "员工人数"]
VALID_CREDIT = "91350100M000100Y43"


def extra(
    n: int, credit: str = "", years: str = "", sales: str = "", employees: str = "", **cells: str
) -> list[str]:
    """A row for CREDIT_HEADER files."""
    return [*api_row(n, **cells), credit, years, sales, employees]


# (id, header, bad row 3, column, code); rows 2 and 4 are good in every file.
ROW_CASES: list[tuple[str, list[str], list[str], str, str]] = [
    ("phone", API_HEADER, api_row(3, phone="1380013800"), "phone", "phone_invalid"),
    ("phone-foreign", API_HEADER, api_row(3, phone="+1 415 555 0100"), "phone", "phone_invalid"),
    ("kind", API_HEADER, api_row(3, kind="学生"), "kind", "kind_invalid"),
    ("name-blank", API_HEADER, api_row(3, name="  "), "name", "required_missing"),
    ("products-blank", API_HEADER, api_row(3, products=""), "products", "required_missing"),
    ("products-unmapped", API_HEADER, api_row(3, products="榴莲"), "products", "products_none_mapped"),
    ("resources", API_HEADER, api_row(3, resources_offered="资金"), "resources_offered", "resources_invalid"),
    ("capacity-high", API_HEADER, api_row(3, capacity="21"), "capacity", "capacity_invalid"),
    ("capacity-zero", API_HEADER, api_row(3, capacity="0"), "capacity", "capacity_invalid"),
    ("region-form", API_HEADER, api_row(3, region_code="3213221150"), "region_code", "region_code_invalid"),
    ("region-county", API_HEADER, api_row(3, region_code="321322000"), "region_code", "region_code_invalid"),
    ("outside", API_HEADER, api_row(3, DAJI), "region_code", "outside_township"),
    ("1MB-cell", API_HEADER, api_row(3, notes="长" * 1_048_576), "notes", "cell_too_long"),
    ("credit-check", CREDIT_HEADER, extra(3, "91350100M000100Y44"), "credit_code", "credit_code_checksum"),
    ("credit-form", CREDIT_HEADER, extra(3, "9135010"), "credit_code", "credit_code_invalid"),
    ("years", CREDIT_HEADER, extra(3, years="三年"), "years_selling", "years_invalid"),
    ("sales", CREDIT_HEADER, extra(3, sales="很多"), "annual_sales_10k_cny", "sales_invalid"),
    ("employees", CREDIT_HEADER, extra(3, employees="十几个"), "employees", "employees_invalid"),
]


def _good(n: int, header: list[str]) -> list[str]:
    if header is CREDIT_HEADER:
        # Row 2 holds the credit code that the "credit-taken" row repeats under another external id.
        return extra(n, VALID_CREDIT if n == 2 else "", "3年", "50-100", "12人")
    return api_row(n)


@pytest.fixture
def office(make_user):
    return make_user("township_office", ZHAXIA)


def _run(client, office, session_factory, content: bytes, filename: str = "roster.csv", **form) -> dict:
    r = client.post(
        "/api/v1/imports",
        files={"file": (filename, content, "application/octet-stream")},
        data=form,
        headers=office.headers,
    )
    assert r.status_code == 202, r.text
    job_settings = client.app.state.settings.model_copy(update={"import_chunk_rows": 3})
    Worker(session_factory, HANDLERS, settings=job_settings).run_until_idle()
    return client.get(r.json()["url"], headers=office.headers).json()


def _mentor_count(db) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(Mentor).where(Mentor.source_township == ZHAXIA)) or 0


@pytest.mark.parametrize(
    ("case_id", "header", "bad", "column", "code"), ROW_CASES, ids=[c[0] for c in ROW_CASES]
)
def test_bad_row(client, office, session_factory, db, case_id, header, bad, column, code):
    content = csv_bytes([_good(2, header), bad, _good(4, header)], header=header, encoding="gb18030")
    status = _run(client, office, session_factory, content)
    assert status["status"] == "done", status
    assert status["counts"] == {"created": 2, "updated": 0, "unchanged": 0, "rejected": 1}
    issues = client.get(status["errors_url"] + "?severity=error", headers=office.headers).json()["items"]
    assert {(i["row_number"], i["column"], i["code"]) for i in issues} >= {(3, column, code)}
    assert {i["row_number"] for i in issues} == {3}
    # The good rows are whole: every column and their product rows.
    db.expire_all()
    mentors = list(
        db.scalars(select(Mentor).where(Mentor.source_township == ZHAXIA).order_by(Mentor.external_id))
    )
    assert [m.external_id for m in mentors] == ["E00002", "E00004"]
    for m in mentors:
        assert m.phone and m.name and m.resources_mask and m.import_hash
        n_products = db.scalar(
            select(func.count()).select_from(MentorProduct).where(MentorProduct.mentor_id == m.id)
        )
        assert n_products == 2


DUPLICATE_CASES = [
    ("external-id", API_HEADER, api_row(2, name="改名"), "external_id"),
    ("credit-code", CREDIT_HEADER, extra(3, VALID_CREDIT), "credit_code"),
]


@pytest.mark.parametrize(
    ("case_id", "header", "bad", "column"), DUPLICATE_CASES, ids=[c[0] for c in DUPLICATE_CASES]
)
def test_every_row_of_a_duplicated_key_is_rejected_in_either_order(
    client, office, session_factory, db, case_id, header, bad, column
):
    for order in ([_good(2, header), bad], [bad, _good(2, header)]):
        status = _run(client, office, session_factory, csv_bytes([*order, _good(4, header)], header=header))
        assert status["status"] == "done", status
        counts = status["counts"]
        assert counts["rejected"] == 2 and counts["created"] + counts["unchanged"] == 1
        issues = client.get(status["errors_url"] + "?severity=error", headers=office.headers).json()["items"]
        assert {(i["row_number"], i["column"], i["code"]) for i in issues} == {
            (2, column, "duplicate_key_in_file"),
            (3, column, "duplicate_key_in_file"),
        }
        db.expire_all()
        mentors = db.scalars(select(Mentor.external_id).where(Mentor.source_township == ZHAXIA)).all()
        assert mentors == ["E00004"]


def test_a_row_rejected_for_its_own_cells_is_told_of_its_twins_too(client, office, session_factory, db):
    # Row 2 also has a bad phone; it had said only that, while row 3 named row 2 as its twin.
    bad = api_row(2, phone="12345")
    status = _run(
        client, office, session_factory, csv_bytes([bad, api_row(2, name="改名")], header=API_HEADER)
    )
    issues = client.get(status["errors_url"] + "?severity=error", headers=office.headers).json()["items"]
    found = {(i["row_number"], i["code"]) for i in issues}
    assert {(2, "duplicate_key_in_file"), (3, "duplicate_key_in_file")} <= found, found
    assert any(n == 2 and code != "duplicate_key_in_file" for n, code in found)
    assert status["counts"]["rejected"] == 2


def _nul() -> bytes:
    return csv_bytes([api_row(2)], header=API_HEADER).replace(b"13800000002", b"138\x0000000002")


def _xlsx(tmp_path: Path, rows: int) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(API_HEADER)
    for n in range(2, rows + 2):
        sheet.append(api_row(n))
    path = tmp_path / "r.xlsx"
    book.save(path)
    return path.read_bytes()


def _late_bad_byte() -> bytes:
    # Thousands of valid UTF-8 rows, then a GBK line: the whole file fails, before any write.
    return (
        csv_bytes([api_row(n) for n in range(2, 2000)], header=API_HEADER) + "张三,".encode("gbk") + b"\r\n"
    )


FILE_CASES: list[tuple[str, Callable[[Path], bytes], str]] = [
    ("nul-byte", lambda _p: _nul(), "binary_content"),
    ("binary-junk", lambda _p: random.Random(7).randbytes(4096), "binary_content"),
    ("xls", lambda _p: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512), "xls_corrupt"),
    ("truncated-xlsx", lambda p: _xlsx(p, 100)[:-2000], "xlsx_corrupt"),
    (
        "10000-columns",
        lambda _p: csv_bytes([api_row(2)], header=API_HEADER + [f"c{i}" for i in range(10_000)]),
        "too_many_columns",
    ),
    ("missing-column", lambda _p: csv_bytes([api_row(2)[:4]], header=API_HEADER[:4]), "missing_columns"),
    ("late-bad-byte", lambda _p: _late_bad_byte(), "encoding_invalid_byte"),
    (
        "unclosed-quote",  # every row after the stray quote was one cell of its row, and vanished
        lambda _p: (
            csv_bytes([api_row(n) for n in range(2, 6)], header=API_HEADER)
            + 'E0099,"张三,农户\r\n'.encode()
            + csv_bytes(
                [api_row(n, resources_offered="技术、物流") for n in range(7, 9)], header=API_HEADER
            ).split(b"\r\n", 1)[1]
        ),
        "csv_unclosed_quote",
    ),
]


@pytest.mark.parametrize(
    ("content", "filename", "code"),
    [
        (b"", "roster.csv", "file_empty"),
        (b"\r\n \r\n", "roster.csv", "file_empty"),
        (b"%PDF-1.7\n" + bytes(100), "roster.csv", "not_a_roster"),
        (b"\x89PNG\r\n\x1a\n" + bytes(100), "roster.xlsx", "not_a_roster"),
        (b"<html><table><tr><td>a</td></tr></table></html>", "roster.xls", "not_a_roster"),
        (b"not a zip at all", "roster.xlsx", "xlsx_corrupt"),
    ],
    ids=["empty", "blank-lines", "pdf", "image", "web-page-as-xls", "xlsx-not-zip"],
)
def test_a_file_its_first_bytes_rule_out_is_refused_on_upload(client, office, db, content, filename, code):
    # These were accepted (202), stored, queued, and failed by the job a moment later.
    r = client.post(
        "/api/v1/imports",
        files={"file": (filename, content, "application/octet-stream")},
        headers={**office.headers, "Accept-Language": "en"},
    )
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == code and body["detail"] and r.headers["content-type"] == "application/problem+json"
    assert db.scalar(select(func.count()).select_from(RosterImport)) == 0


def test_a_worksheet_named_for_a_csv_file_is_refused_on_upload(client, office, db):
    # The sheet was ignored and the CSV imported, though the office meant one sheet of a workbook.
    r = client.post(
        "/api/v1/imports",
        files={"file": ("roster.csv", csv_bytes([api_row(2)]), "text/csv")},
        data={"sheet": "名单"},
        headers=office.headers,
    )
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "sheet_not_in_csv" and "名单" in r.json()["detail"]
    assert db.scalar(select(func.count()).select_from(RosterImport)) == 0
    r = client.post(
        "/api/v1/imports",
        files={"file": ("roster.csv", csv_bytes([api_row(2)]), "text/csv")},
        data={"sheet": ""},
        headers=office.headers,
    )
    assert r.status_code == 202, r.text


@pytest.mark.parametrize("on_error", ["skip_row", "reject_file"])
@pytest.mark.parametrize(("case_id", "build", "code"), FILE_CASES, ids=[c[0] for c in FILE_CASES])
def test_bad_file_fails_before_any_write(
    client, office, session_factory, db, tmp_path, case_id, build, code, on_error
):
    name = "roster.xlsx" if "xlsx" in case_id else "roster.csv"
    status = _run(client, office, session_factory, build(tmp_path), filename=name, on_error=on_error)
    assert status["status"] == "failed", status
    assert status["error"]["code"] == code
    assert status["error"]["message_zh"] and status["error"]["message_en"]
    assert status["counts"] == {"created": 0, "updated": 0, "unchanged": 0, "rejected": 0}
    assert _mentor_count(db) == 0


def test_good_xlsx_imports(client, office, session_factory, db, tmp_path):
    status = _run(client, office, session_factory, _xlsx(tmp_path, 7), filename="roster.xlsx")
    assert status["status"] == "done" and status["counts"]["created"] == 7 and status["sheet"] == "Sheet"
    assert _mentor_count(db) == 7


def test_region_by_names(client, office, session_factory, db):
    header = [h for h in API_HEADER if h != "行政区划代码"] + ["省", "市", "县", "乡镇"]

    def named(n: int, *names: str) -> list[str]:
        row = api_row(n)
        del row[4]
        return [*row, *names]

    rows = [
        named(2, "江苏省", "宿迁市", "沭阳县", "扎下镇"),
        named(3, "江苏", "宿迁", "沭阳", "扎下"),  # suffixes left off
        named(4, "", "", "", "城关镇"),  # 82 townships of that name, none in this office's township
        named(5, "", "", "沭阳县", "不存在镇"),
    ]
    status = _run(client, office, session_factory, csv_bytes(rows, header=header))
    assert status["counts"]["created"] == 2 and status["counts"]["rejected"] == 2
    issues = client.get(status["errors_url"], headers=office.headers).json()["items"]
    assert [(i["row_number"], i["code"]) for i in issues] == [
        (4, "region_ambiguous"),
        (5, "region_not_found"),
    ]
    assert "城关镇" in issues[0]["message_zh"]


def test_unknown_township_code_is_rejected_for_admin(client, make_user, session_factory, db):
    admin = make_user("admin")
    rows = [api_row(2), api_row(3, region_code="321322999"), api_row(4, region_code="321322999001")]
    status = _run(client, admin, session_factory, csv_bytes(rows, header=API_HEADER))
    assert status["counts"]["created"] == 1 and status["counts"]["rejected"] == 2
    issues = client.get(status["errors_url"], headers=admin.headers).json()["items"]
    assert [(i["row_number"], i["code"]) for i in issues] == [
        (3, "region_not_found"),
        (4, "region_not_found"),
    ]
