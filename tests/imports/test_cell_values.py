"""Workbook cells that are not plain data: error values (#N/A) and NUL written as _x0000_."""

from __future__ import annotations

import io

import openpyxl
import pytest

from app.jobs.handlers import HANDLERS
from app.jobs.worker import Worker
from tests.imports.conftest import API_HEADER, ZHAXIA, api_row
from tests.imports.test_api import imported, mentors_in


@pytest.fixture
def run_jobs(session_factory):
    return lambda: Worker(session_factory, HANDLERS).run_until_idle()


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
