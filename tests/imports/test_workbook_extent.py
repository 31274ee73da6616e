"""A workbook's grid is bounded before calamine allocates it: stray far cells, ODS repeats, row limit.

calamine holds a sheet as a dense rows x columns grid and expands ODS repeats into real cells, so a
file of a few KB can ask for billions of cells. These tests make calamine's loading fail loudly: a
sheet that is refused must be refused before it is loaded.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import openpyxl
import pytest
import python_calamine
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.styles import PatternFill

from app.imports.read.decoding import RosterFileError
from app.imports.read.reading import ReadLimits, open_roster
from app.imports.read.workbook import CellText
from app.jobs.handlers import HANDLERS
from app.jobs.worker import Worker
from tests.imports.conftest import API_HEADER, HEADER_ZH, ZHAXIA, api_row, good_row, xlsx_path
from tests.imports.test_api import imported, mentors_in


@pytest.fixture
def no_sheet_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading any sheet (XLSX) or opening any ODS fails the test."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("calamine loaded a sheet that should have been refused before")

    monkeypatch.setattr(python_calamine.CalamineWorkbook, "get_sheet_by_name", refuse)
    real_open = python_calamine.CalamineWorkbook.from_filelike

    def open_unless_ods(stream: io.BytesIO) -> python_calamine.CalamineWorkbook:
        stream.seek(0)
        if b"opendocument.spreadsheet" in stream.read(256):
            refuse()
        stream.seek(0)
        return real_open(stream)

    monkeypatch.setattr(python_calamine.CalamineWorkbook, "from_filelike", open_unless_ods)


def _refused(data: bytes, filename: str, limits: ReadLimits | None = None) -> RosterFileError:
    with (
        pytest.raises(RosterFileError) as caught,
        open_roster(io.BytesIO(data), filename=filename, limits=limits) as reader,
    ):
        list(reader)
    return caught.value


def _stray_cell_xlsx(tmp_path: Path, row: int, column: int) -> bytes:
    """A valid two-row roster plus one cell far away (openpyxl writes only the cells that are set)."""
    path = xlsx_path(tmp_path, [good_row(2), good_row(3)])
    workbook = openpyxl.load_workbook(path)
    sheet = workbook.active
    assert sheet is not None
    sheet.cell(row=row, column=column, value="x")
    workbook.save(path)
    return path.read_bytes()


@pytest.mark.usefixtures("no_sheet_loads")
@pytest.mark.parametrize(
    ("row", "column", "code"),
    [
        (1_000, 16_384, "sheet_too_large"),  # XFD1000: 16 million cells from a 6 KB file
        (1_048_576, 1, "too_many_rows"),  # A1048576: a million rows for three
        (1_048_576, 16_384, "too_many_rows"),  # XFD1048576: 17 billion cells
    ],
    ids=["far-right", "far-below", "far-corner"],
)
def test_a_stray_far_xlsx_cell_is_refused_before_the_sheet_is_loaded(
    tmp_path: Path, row: int, column: int, code: str
) -> None:
    data = _stray_cell_xlsx(tmp_path, row, column)
    assert len(data) < 10_000
    error = _refused(data, "roster.xlsx")
    assert error.code == code
    assert "200000" in error.message_en or "cells" in error.message_en


@pytest.mark.usefixtures("no_sheet_loads")
@pytest.mark.parametrize("space", [" ", "\t", "\n", "\r\n"])
def test_single_quoted_cell_references_count_too(tmp_path: Path, space: str) -> None:
    # XML allows either quote and any white space between attributes; calamine places the cell by it.
    source = io.BytesIO(_stray_cell_xlsx(tmp_path, 1_000, 16_384))
    patched = io.BytesIO()
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(patched, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            part = old.read(info)
            if info.filename.startswith("xl/worksheets/"):
                assert b'r="XFD1000"' in part
                far = f"{space}r='XFD1000'".encode()
                part = part.replace(b' r="XFD1000"', far).replace(b' r="1000"', f"{space}r='1000'".encode())
            new.writestr(info, part)
    assert _refused(patched.getvalue(), "roster.xlsx").code == "sheet_too_large"


def test_a_roster_with_a_nearby_stray_cell_still_reads(tmp_path: Path) -> None:
    data = _stray_cell_xlsx(tmp_path, 40, 30)
    with open_roster(io.BytesIO(data), filename="roster.xlsx") as reader:
        assert [r.row_number for r in reader] == [2, 3]


# ---------------------------------------------------------------- ODS

_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:calcext="urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0"'
)

_MANIFEST = (
    '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
    'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
    '<manifest:file-entry manifest:full-path="/" '
    'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
    '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
    "</manifest:manifest>"
)


def _cell(text: str, attrs: str = "") -> str:
    return f'<table:table-cell office:value-type="string" {attrs}><text:p>{text}</text:p></table:table-cell>'


def _row(cells: list[str], attrs: str = "") -> str:
    return f"<table:table-row {attrs}>{''.join(_cell(c) for c in cells)}</table:table-row>"


def _ods(*tables: str) -> bytes:
    """An ODS of raw table bodies (the first is 名单, then 表2, 表3 ...)."""
    names = ["名单", *(f"表{n}" for n in range(2, len(tables) + 1))]
    body = "".join(
        f'<table:table table:name="{name}">{table}</table:table>'
        for name, table in zip(names, tables, strict=True)
    )
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {_NS} office:version="1.2">'
        f"<office:body><office:spreadsheet>{body}</office:spreadsheet></office:body></office:document-content>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED)
        archive.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
        archive.writestr("META-INF/manifest.xml", _MANIFEST, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


_ROSTER = _row(HEADER_ZH) + _row(good_row(2))


@pytest.mark.usefixtures("no_sheet_loads")
@pytest.mark.parametrize(
    ("extra", "code"),
    [
        (_row(good_row(3), 'table:number-rows-repeated="1000000"'), "too_many_rows"),
        (
            '<table:table-row table:number-rows-repeated="5000">'
            + _cell("x", 'table:number-columns-repeated="16384"')
            + "</table:table-row>",
            "sheet_too_large",
        ),
    ],
    ids=["rows-repeated", "columns-repeated"],
)
def test_ods_repeats_are_bounded_before_calamine_expands_them(extra: str, code: str) -> None:
    data = _ods(_ROSTER + extra)
    assert len(data) < 2_000
    assert _refused(data, "roster.ods").code == code


@pytest.mark.usefixtures("no_sheet_loads")
def test_every_ods_table_counts_since_calamine_opens_them_all() -> None:
    # The roster is fine; a second table is the bomb, and calamine expands it when the file opens.
    bomb = _row(["x"] * 10, 'table:number-rows-repeated="900000"')
    assert _refused(_ods(_ROSTER, bomb), "roster.ods").code == "too_many_rows"


def test_libreoffice_padding_of_empty_repeats_is_not_counted() -> None:
    # LibreOffice pads a saved sheet to its full size with repeated empty cells and rows.
    padding = (
        '<table:table-row table:number-rows-repeated="1048570">'
        '<table:table-cell table:number-columns-repeated="1024"/></table:table-row>'
    )
    wide_row = _row(good_row(3))[: -len("</table:table-row>")]
    wide_row += '<table:table-cell table:number-columns-repeated="16000"/></table:table-row>'
    data = _ods(_ROSTER + wide_row + padding)
    with open_roster(io.BytesIO(data), filename="roster.ods") as reader:
        rows = list(reader)
    assert [r.row_number for r in rows] == [2, 3]
    assert rows[1].cells["phone"] == good_row(3)[3]


def test_ods_formula_without_a_value_is_reported_as_such() -> None:
    # A program wrote the formula but never computed it; calamine reads such a cell as blank.
    formula = _row(good_row(3))
    name = _cell(good_row(3)[1])
    formula = formula.replace(name, '<table:table-cell table:formula="of:=&quot;示范户&quot;&amp;3"/>', 1)
    data = _ods(_ROSTER + formula)
    with open_roster(io.BytesIO(data), filename="roster.ods") as reader:
        rows = {r.row_number: r for r in reader}
    assert rows[2].formula_fields == frozenset()
    assert rows[3].formula_fields == frozenset({"name"}) and rows[3].cells["name"] == ""


# ---------------------------------------------------------------- the configured row limit


@pytest.mark.usefixtures("no_sheet_loads")
def test_the_configured_row_limit_applies_before_the_sheet_is_loaded(
    client, make_user, session_factory, db, tmp_path: Path
) -> None:
    office = make_user("township_office", ZHAXIA)
    path = xlsx_path(tmp_path, [api_row(n) for n in range(2, 40)], header=API_HEADER)
    settings = client.app.state.settings.model_copy(update={"import_max_rows": 10})

    def run_jobs() -> None:
        Worker(session_factory, HANDLERS, settings=settings).run_until_idle()

    status = imported(client, office, run_jobs, path.read_bytes(), filename="roster.xlsx")
    assert status["status"] == "failed"
    assert status["error"]["code"] == "too_many_rows" and "10" in status["error"]["message_en"]
    assert mentors_in(db) == []


def test_ods_cells_spanning_rows_fill_down_as_in_xlsx() -> None:
    # calamine reports merged ranges for XLSX and .xls only; in an ODS the rows under a merged 类型
    # cell read as blank and were rejected as missing their kind.
    kind = HEADER_ZH.index("类型")
    second, third = good_row(2), good_row(3)
    cells = [_cell(c, 'table:number-rows-spanned="2"' if i == kind else "") for i, c in enumerate(second)]
    row2 = f"<table:table-row>{''.join(cells)}</table:table-row>"
    covered = ["<table:covered-table-cell/>" if i == kind else _cell(c) for i, c in enumerate(third)]
    row3 = f"<table:table-row>{''.join(covered)}</table:table-row>"
    data = _ods(_row(HEADER_ZH) + row2 + row3 + _row(good_row(4)))
    with open_roster(io.BytesIO(data), filename="roster.ods") as reader:
        rows = {r.row_number: r.cells for r in reader}
    assert rows[3]["kind"] == second[kind] and rows[3]["phone"] == third[3]
    assert rows[4]["kind"] == good_row(4)[kind]


def test_formatted_empty_cells_and_rows_far_away_do_not_count(tmp_path: Path) -> None:
    # A changed row height far below and a coloured cell far right: calamine allocates nothing for them.
    path = xlsx_path(tmp_path, [good_row(2), good_row(3)])
    workbook = openpyxl.load_workbook(path)
    sheet = workbook.active
    assert sheet is not None
    sheet.row_dimensions[900_000].height = 30
    sheet.cell(row=5, column=16_000).fill = PatternFill("solid", fgColor="FFFF00")
    sheet.cell(row=800_000, column=2).fill = PatternFill("solid", fgColor="FFFF00")
    workbook.save(path)
    with open_roster(path, filename="roster.xlsx") as reader:
        assert [r.row_number for r in reader] == [2, 3]


@pytest.mark.usefixtures("no_sheet_loads")
def test_a_far_row_whose_cells_name_no_column_is_refused(tmp_path: Path) -> None:
    # Cells without r= go in their row, wherever the row says it is.
    source = io.BytesIO(xlsx_path(tmp_path, [good_row(2)]).read_bytes())
    far = b'<row r="1000000"><c t="inlineStr"><is><t>x</t></is></c></row></sheetData>'
    patched = io.BytesIO()
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(patched, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            part = old.read(info)
            if info.filename.startswith("xl/worksheets/"):
                part = part.replace(b"</sheetData>", far)
            new.writestr(info, part)
    assert _refused(patched.getvalue(), "roster.xlsx").code == "too_many_rows"


def test_ods_error_cells_are_marked_not_read_as_zero() -> None:
    # LibreOffice stores a failed formula with office:value="0" and calcext:value-type="error"; calamine
    # read #DIV/0! as the number 0 and #N/A as blank.
    capacity = HEADER_ZH.index("可带徒人数")
    phone = HEADER_ZH.index("手机号")
    error = (
        '<table:table-cell table:formula="of:=1/0" office:value-type="float" office:value="0" '
        'calcext:value-type="error"><text:p>{}</text:p></table:table-cell>'
    )
    row3 = [_cell(c) for c in good_row(3)]
    row3[capacity] = error.format("#DIV/0!")
    row3[phone] = error.format("#N/A")
    body = _ROSTER + f"<table:table-row>{''.join(row3)}</table:table-row>"
    data = _ods(body)
    with open_roster(io.BytesIO(data), filename="roster.ods") as reader:
        rows = {r.row_number: r for r in reader}
    assert rows[2].error_fields == frozenset()
    assert rows[3].error_fields == frozenset({"capacity", "phone"})
    assert rows[3].cells["capacity"] == "#DIV/0!" and rows[3].cells["phone"] == "#N/A"


# ---------------------------------------------------------------- text inside the sheet

_TEXT_LIMITS = ReadLimits(max_cell_text_bytes=3 * 1024 * 1024)  # 3 MiB: the chunks are 1 MiB


def _inline_xlsx(tmp_path: Path, texts: list[str], indent: str = "") -> bytes:
    """The roster plus one row of inline-string cells (the text lives in the sheet, not shared strings)."""
    source = io.BytesIO(xlsx_path(tmp_path, [good_row(2)]).read_bytes())
    cells = "".join(
        f'{indent}<c r="{chr(65 + i)}3" t="inlineStr">{indent}<is><t>{text}</t></is></c>'
        for i, text in enumerate(texts)
    )
    patched = io.BytesIO()
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(patched, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            part = old.read(info)
            if info.filename.startswith("xl/worksheets/"):
                part = part.replace(b"</sheetData>", f'<row r="3">{cells}</row></sheetData>'.encode())
            new.writestr(info, part)
    return patched.getvalue()


@pytest.mark.usefixtures("no_sheet_loads")
@pytest.mark.parametrize(
    "texts",
    [["长" * 1_100_000], ["a" * 700_000] * 5],  # one run over several chunks; many cells
    ids=["one-long-cell", "many-cells"],
)
def test_xlsx_inline_text_over_the_budget_is_refused_before_the_sheet_loads(tmp_path: Path, texts) -> None:
    error = _refused(_inline_xlsx(tmp_path, texts), "roster.xlsx", _TEXT_LIMITS)
    assert error.code == "file_too_large" and "3 MB" in error.message_en


def test_inline_text_within_the_budget_and_indentation_are_read(tmp_path: Path) -> None:
    # Pretty-printed XML puts white space between every tag: that is not text calamine keeps.
    data = _inline_xlsx(tmp_path, ["a" * 700_000] * 4, indent="\n" + " " * 200)
    with open_roster(io.BytesIO(data), filename="roster.xlsx", limits=_TEXT_LIMITS) as reader:
        rows = list(reader)
    assert [r.row_number for r in rows] == [2, 3] and rows[1].cells["external_id"] == "a" * 700_000


@pytest.mark.usefixtures("no_sheet_loads")
def test_ods_text_over_the_budget_is_refused_before_calamine_opens_it() -> None:
    data = _ods(_ROSTER + _row(["b" * 800_000] * 4))
    assert _refused(data, "roster.ods", _TEXT_LIMITS).code == "file_too_large"


@settings(max_examples=120, deadline=None)
@given(
    texts=st.lists(st.text(alphabet="ab长>", min_size=0, max_size=300), min_size=1, max_size=30),
    cuts=st.lists(st.integers(1, 400), min_size=1, max_size=40),
    max_carry=st.integers(1, 600),
)
def test_the_text_count_is_exact_wherever_the_chunks_are_cut(
    texts: list[str], cuts: list[int], max_carry: int
) -> None:
    # White space between tags is not text; a ">" inside text is legal XML and counts too.
    xml = "<sheetData>" + "".join(f'<c r="A1" t="inlineStr">\n <is><t>{t}</t></is></c>\n  ' for t in texts)
    data = (xml + "</sheetData>").encode()
    counter = CellText(1, ReadLimits(max_cell_text_bytes=0), max_carry=max_carry)
    counter.limit = len(data)  # count everything, refuse nothing
    position, index = 0, 0
    while position < len(data):
        size = cuts[index % len(cuts)]
        counter.add(data[position : position + size])
        position, index = position + size, index + 1
    assert counter.total == sum(len(t.encode()) for t in texts)
