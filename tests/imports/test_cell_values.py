"""Workbook cells that are not plain data (error values, NUL as _x0000_), and files that are not workbooks."""

from __future__ import annotations

import io

import openpyxl
import pytest

from tests.imports.conftest import API_HEADER, ZHAXIA, api_row, csv_bytes
from tests.imports.test_api import imported, mentors_in


def _xlsx(rows: list[list[object]]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(API_HEADER)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_error_values_are_row_errors_not_blanks_or_data(client, make_user, run_jobs, db) -> None:
    # openpyxl stores "#N/A" and friends as error cells (t="e"), which calamine reads as blank: a
    # required phone became "missing", an optional capacity or a name silently empty or imported.
    office = make_user("township_office", ZHAXIA)
    rows = [
        api_row(2),
        api_row(3, phone="#N/A"),
        api_row(4, capacity="#DIV/0!"),
        api_row(5, notes="#REF!"),
    ]
    status = imported(client, office, run_jobs, _xlsx(rows), filename="roster.xlsx")
    assert status["status"] == "done"
    assert status["counts"] == {"created": 1, "updated": 0, "unchanged": 0, "rejected": 3}
    issues = client.get(status["errors_url"], headers=office.headers).json()["items"]
    assert [(i["row_number"], i["column"], i["code"], i["original_value"]) for i in issues] == [
        (3, "phone", "cell_error", "#N/A"),
        (4, "capacity", "cell_error", "#DIV/0!"),
        (5, "notes", "cell_error", "#REF!"),
    ]
    assert "#DIV/0!" in issues[1]["message_zh"] and "error value" in issues[1]["message_en"]
    assert [m.external_id for m in mentors_in(db)] == ["E00002"]
    report = client.get(status["errors_csv_url"], headers=office.headers).content.decode("utf-8-sig")
    assert "#N/A" in report and "#DIV/0!" in report


def test_nul_escaped_in_a_cell_is_dropped_and_the_rows_import(client, make_user, run_jobs, db) -> None:
    # "_x0000_" is Excel's escape for NUL; PostgreSQL refused it and the whole import failed.
    office = make_user("township_office", ZHAXIA)
    rows = [api_row(2, name="示范_x0000_户2", notes="备_x0000_注"), api_row(3)]
    status = imported(client, office, run_jobs, _xlsx(rows), filename="roster.xlsx")
    assert status["status"] == "done", status
    assert status["counts"]["created"] == 2
    by_id = {m.external_id: m for m in mentors_in(db)}
    assert by_id["E00002"].name == "示范户2"


@pytest.mark.parametrize(
    "content",
    [
        b"\xef\xbb\xbf<html><head><meta charset=utf-8></head><body><table><tr>"
        b"<td>\xe5\x90\x8d\xe7\xa7\xb0</td></tr></table></body></html>",
        b'  <!DOCTYPE html>\r\n<html><body><table border="1"><tr><td>a</td></tr></table></body></html>',
        b'<?xml version="1.0"?>\r\n<?mso-application progid="Excel.Sheet"?>\r\n'
        b'<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"><Worksheet ss:Name="S"/></Workbook>',
    ],
    ids=["html-bom", "html-doctype", "xml-spreadsheet-2003"],
)
def test_a_web_page_or_xml_named_xls_gets_its_own_message(client, make_user, content: bytes) -> None:
    # Web systems export "Excel" as an HTML table or Excel 2003 XML named .xls; read as CSV, the first
    # tag looked like a title banner and the file was reported as having no header.
    # Refused on upload, from its first bytes.
    office = make_user("township_office", ZHAXIA)
    answers = {
        lang: client.post(
            "/api/v1/imports",
            files={"file": ("roster.xls", content, "application/vnd.ms-excel")},
            headers={**office.headers, "Accept-Language": lang},
        )
        for lang in ("zh-CN", "en")
    }
    assert {r.status_code for r in answers.values()} == {422}
    assert {r.json()["code"] for r in answers.values()} == {"not_a_roster"}
    assert "HTML" in answers["zh-CN"].json()["detail"] and "web page" in answers["en"].json()["detail"]


def test_a_csv_named_xls_is_read_as_the_csv_it_is(client, make_user, run_jobs, db) -> None:
    office = make_user("township_office", ZHAXIA)
    status = imported(client, office, run_jobs, csv_bytes([api_row(2)], header=API_HEADER), filename="r.xls")
    assert status["status"] == "done" and status["counts"]["created"] == 1


def _ole2(*stream_names: str) -> bytes:
    """The head of an OLE2 compound file whose directory names these streams (as Office writes them)."""
    directory = b"".join(name.encode("utf-16-le").ljust(64, b"\x00") + b"\x00" * 64 for name in stream_names)
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504 + directory + b"\x00" * 2048


@pytest.mark.parametrize("filename", ["roster.xlsx", "roster.xls"])
def test_a_password_protected_workbook_says_so(client, make_user, run_jobs, filename: str) -> None:
    # Office saves an encrypted .xlsx as an OLE2 file (EncryptionInfo + EncryptedPackage); it was
    # reported as a damaged Excel 97-2003 file.
    office = make_user("township_office", ZHAXIA)
    content = _ole2("Root Entry", "EncryptionInfo", "EncryptedPackage")
    status = imported(client, office, run_jobs, content, filename=filename)
    assert status["status"] == "failed"
    assert status["error"]["code"] == "file_encrypted"
    assert "密码" in status["error"]["message_zh"] and "password" in status["error"]["message_en"]


def test_a_damaged_xls_is_still_reported_as_damaged(client, make_user, run_jobs) -> None:
    office = make_user("township_office", ZHAXIA)
    status = imported(client, office, run_jobs, _ole2("Root Entry", "Workbook"), filename="roster.xls")
    assert status["status"] == "failed" and status["error"]["code"] == "xls_corrupt"


def _workbook(*sheets: tuple[str, list[list[str]], str]) -> bytes:
    """An .xlsx of (title, rows, state) sheets in order."""
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows, state in sheets:
        sheet = workbook.create_sheet(title)
        sheet.sheet_state = state
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_an_empty_first_sheet_is_passed_over_for_the_roster(client, make_user, run_jobs, db) -> None:
    # A blank "Sheet1" in front of the roster made the import fail with "no header row and no data".
    office = make_user("township_office", ZHAXIA)
    content = _workbook(
        ("Sheet1", [], "visible"),
        ("隐藏", [API_HEADER, api_row(9)], "hidden"),
        ("名单", [API_HEADER, api_row(2)], "visible"),
    )
    status = imported(client, office, run_jobs, content, filename="roster.xlsx")
    assert status["status"] == "done" and status["sheet"] == "名单"
    assert status["counts"]["created"] == 1
    assert [m.external_id for m in mentors_in(db)] == ["E00002"]


def test_a_workbook_of_empty_sheets_is_still_empty(client, make_user, run_jobs) -> None:
    office = make_user("township_office", ZHAXIA)
    content = _workbook(("Sheet1", [], "visible"), ("Sheet2", [], "visible"))
    status = imported(client, office, run_jobs, content, filename="roster.xlsx")
    assert status["status"] == "failed" and status["error"]["code"] == "file_empty"


def test_an_error_cell_without_a_value_does_not_borrow_the_next_cells() -> None:
    from app.imports.read.limits import ReadLimits
    from app.imports.read.workbook import scan_sheet_xml

    sheet = (
        b'<sheetData><row r="1"><c r="A1" t="e"/><c r="B1" t="n"><v>5</v></c>'
        b'<c r="C1" t="e"><f>1/0</f><v>#DIV/0!</v></c></row></sheetData>'
    )
    assert scan_sheet_xml(io.BytesIO(sheet), ReadLimits()).errors == {1: {1: "#ERROR", 3: "#DIV/0!"}}
