""".xls (Excel 97-2003) rosters: read end to end, and each sheet bounded from its BIFF records first.

The files are real BIFF8 workbooks written by xlwt. calamine allocates an .xls sheet as a dense grid
up to its furthest value cell (about 1 GB for one cell at IV65536), so a sheet that is too large must
be refused before calamine loads it: these tests make loading fail loudly where it must not happen.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import olefile
import pytest
import python_calamine
import xlwt
from hypothesis import given, settings
from hypothesis import strategies as st

from app.imports.read import xls
from app.imports.read.decoding import RosterFileError
from app.imports.read.reading import ReadLimits, open_roster
from tests.imports.conftest import API_HEADER, HEADER_ZH, ZHAXIA, api_row, good_row
from tests.imports.test_api import imported, mentors_in

_FILL = xlwt.easyxf("pattern: pattern solid, fore_colour yellow")  # a formatted, empty cell


def _xls(
    *sheets: tuple[str, list[list[object]]], extra: Callable[[xlwt.Workbook], None] | None = None
) -> bytes:
    """An .xls of (title, rows) sheets; `extra` may add cells before it is saved."""
    workbook = xlwt.Workbook(encoding="utf-8")
    for title, rows in sheets:
        sheet = workbook.add_sheet(title)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                sheet.write(r, c, value)
    if extra is not None:
        extra(workbook)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _roster(
    extra: Callable[[xlwt.Workbook], None] | None = None, *more: tuple[str, list[list[object]]]
) -> bytes:
    return _xls(("名单", [HEADER_ZH, good_row(2), good_row(3)]), *more, extra=extra)


def _far_cell(
    sheet_index: int, row: int, column: int, value: object = 1.5, style: xlwt.XFStyle | None = None
):
    def add(workbook: xlwt.Workbook) -> None:
        sheet = workbook.get_sheet(sheet_index)
        if style is None:
            sheet.write(row, column, value)
        else:
            sheet.write(row, column, value, style)

    return add


def _read(data: bytes, sheet_name: str | None = None, limits: ReadLimits | None = None) -> list:
    with open_roster(io.BytesIO(data), filename="roster.xls", sheet_name=sheet_name, limits=limits) as reader:
        return list(reader)


def _refused(data: bytes, sheet_name: str | None = None, limits: ReadLimits | None = None) -> RosterFileError:
    with pytest.raises(RosterFileError) as caught:
        _read(data, sheet_name, limits)
    return caught.value


@pytest.fixture
def no_workbook_opens(monkeypatch: pytest.MonkeyPatch) -> None:
    """calamine opening any workbook fails the test (it builds every .xls sheet's grid at open)."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("calamine opened a file that should have been refused before")

    monkeypatch.setattr(python_calamine.CalamineWorkbook, "from_filelike", refuse)


# ---------------------------------------------------------------- reading


def test_an_xls_roster_reads_like_the_xlsx() -> None:
    number_cells = [*good_row(3)[:3], 13800138000, 371721101, *good_row(3)[5:7], 3]
    rows = _read(_xls(("名单", [HEADER_ZH, good_row(2), number_cells])))
    assert [r.row_number for r in rows] == [2, 3]
    assert rows[0].cells["name"] == "示范户2" and rows[0].cells["products"] == "苹果、梨"
    # Number cells read as a person sees them, without ".0".
    assert rows[1].cells["phone"] == "13800138000" and rows[1].cells["region_code"] == "371721101"
    assert rows[1].cells["capacity"] == "3"


def test_the_first_sheet_with_data_is_read_and_a_named_one_on_request() -> None:
    data = _xls(("Sheet1", []), ("名单", [HEADER_ZH, good_row(2)]), ("其他", [HEADER_ZH, good_row(7)]))
    assert [r.cells["external_id"] for r in _read(data)] == ["E0002"]
    assert [r.cells["external_id"] for r in _read(data, sheet_name="其他")] == ["E0007"]


def test_a_formatted_far_blank_cell_is_not_counted() -> None:
    # Excel writes BLANK records where a whole column was formatted; calamine skips them, and so must
    # the bound, or every such roster would be refused.
    data = _roster(_far_cell(0, 65_535, 255, None, _FILL))
    assert [r.row_number for r in _read(data)] == [2, 3]


def test_an_xls_import_creates_the_mentors(client, make_user, run_jobs, db) -> None:
    office = make_user("township_office", ZHAXIA)
    data = _xls(("名单", [API_HEADER, api_row(2), api_row(3)]))
    status = imported(client, office, run_jobs, data, filename="roster.xls")
    assert status["status"] == "done", status
    assert status["counts"]["created"] == 2
    assert [m.external_id for m in mentors_in(db)] == ["E00002", "E00003"]


# ---------------------------------------------------------------- the bound

_BUDGET = ReadLimits().max_sheet_cells // 2  # every sheet at open, and the chosen one copied again


@pytest.mark.usefixtures("no_workbook_opens")
@pytest.mark.parametrize(
    ("row", "column", "value"),
    [(65_535, 255, 1.5), (65_535, 100, "远处"), (30_000, 255, True), (65_535, 91, 7)],
    ids=["number-far-corner", "text", "bool", "integer-rk"],
)
def test_a_far_value_cell_is_refused_before_calamine_opens_the_file(
    row: int, column: int, value: object
) -> None:
    data = _roster(_far_cell(0, row, column, value))
    assert len(data) < 10_000  # a few KB asking for up to 16.7 million cells
    error = _refused(data)
    assert error.code == "sheet_too_large"
    assert f"{row + 1} rows x {column + 1} columns, more than {_BUDGET} cells" in error.message_en


@pytest.mark.usefixtures("no_workbook_opens")
def test_consecutive_integers_in_one_record_count_by_their_last_column() -> None:
    # xlwt writes a run of integers as one MULRK record, whose last column is at its end.
    def run(workbook: xlwt.Workbook) -> None:
        sheet = workbook.get_sheet(0)
        for column in range(200, 256):
            sheet.write(65_000, column, column)

    assert _refused(_roster(run)).code == "sheet_too_large"


@pytest.mark.usefixtures("no_workbook_opens")
def test_a_far_formula_cell_counts() -> None:
    assert _refused(_roster(_far_cell(0, 65_535, 255, xlwt.Formula("1+1")))).code == "sheet_too_large"


@pytest.mark.usefixtures("no_workbook_opens")
def test_a_far_cell_on_any_sheet_refuses_the_file() -> None:
    # calamine builds every sheet's grid when it opens an .xls, so the roster's sheet being small
    # does not help.
    data = _roster(_far_cell(1, 65_535, 255), ("备用", [["x"]]))
    assert _refused(data).code == "sheet_too_large"


@pytest.mark.usefixtures("no_workbook_opens")
def test_the_sheets_share_one_budget() -> None:
    # Four sheets of 65,536 x 12 cells: each within the budget, together over it.
    def fill(workbook: xlwt.Workbook) -> None:
        for index in range(4):
            sheet = workbook.add_sheet(f"数据{index}")
            sheet.write(0, 0, 1)
            sheet.write(65_535, 11, 1)

    assert 65_536 * 12 < _BUDGET < 4 * 65_536 * 12
    assert _refused(_roster(fill)).code == "sheet_too_large"


def test_a_lone_far_cell_is_a_grid_of_one() -> None:
    # calamine's grid starts at a sheet's first value cell: a sheet holding only IV65536 is one cell.
    def lone(workbook: xlwt.Workbook) -> None:
        workbook.add_sheet("远处").write(65_535, 255, 1)

    data = _roster(lone)
    assert [r.row_number for r in _read(data)] == [2, 3]


def test_the_cell_budget_is_the_configured_one() -> None:
    data = _roster(_far_cell(0, 99, 9))  # a 100 x 10 grid
    assert [r.row_number for r in _read(data, limits=ReadLimits(max_sheet_cells=2_000))] == [2, 3]
    assert _refused(data, limits=ReadLimits(max_sheet_cells=1_998)).code == "sheet_too_large"


_CELL_VALUES = st.one_of(
    st.integers(-1000, 1000),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(alphabet="ab名单 ", min_size=1, max_size=4),
    st.booleans(),
    st.none(),  # a formatted blank
)


@settings(max_examples=60, deadline=None)
@given(
    sheets=st.lists(
        st.lists(st.tuples(st.integers(0, 400), st.integers(0, 120), _CELL_VALUES), max_size=30),
        min_size=1,
        max_size=3,
    )
)
def test_the_grids_are_the_ones_calamine_builds(sheets: list[list[tuple[int, int, object]]]) -> None:
    def write(workbook: xlwt.Workbook) -> None:
        for index, cells in enumerate(sheets):
            sheet = workbook.add_sheet(f"S{index}", cell_overwrite_ok=True)
            for row, column, value in cells:
                sheet.write(row, column, value, *([_FILL] if value is None else []))

    data = _xls(extra=write)
    workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    expected = []
    for index in range(len(sheets)):
        sheet = workbook.get_sheet_by_name(f"S{index}")
        if sheet.start is not None:
            top, left = sheet.start
            expected.append(xls.Grid(sheet.total_height - top + 1, sheet.total_width - left + 1))
    assert xls.worksheet_grids(io.BytesIO(data)) == expected


# ---------------------------------------------------------------- damaged and protected files


def _with_workbook_stream(tmp_path: Path, data: bytes, change: Callable[[bytearray], None]) -> bytes:
    """The .xls with its Workbook stream changed in place (same length, as olefile writes it)."""
    path = tmp_path / "changed.xls"
    path.write_bytes(data)
    with olefile.OleFileIO(str(path), write_mode=True) as ole:
        stream = bytearray(ole.openstream("Workbook").read())
        change(stream)
        ole.write_stream("Workbook", bytes(stream))
    return path.read_bytes()


def test_a_password_protected_xls_says_so(tmp_path: Path, no_workbook_opens: None) -> None:
    # FILEPASS in the globals: every later record body is encrypted. The CODEPAGE record (2 bytes)
    # is turned into one, as Excel writes it at the same place.
    def protect(stream: bytearray) -> None:
        at = stream.index(b"\x42\x00\x02\x00")
        stream[at : at + 2] = b"\x2f\x00"

    data = _with_workbook_stream(tmp_path, _roster(), protect)
    assert _refused(data).code == "file_encrypted"


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_a_truncated_xls_is_damaged_not_a_crash(keep: float) -> None:
    data = _xls(("名单", [HEADER_ZH, *(good_row(n) for n in range(2, 400))]))
    assert _refused(data[: int(len(data) * keep)]).code == "xls_corrupt"


def test_a_record_cut_short_at_the_end_of_the_stream_is_read_safely(tmp_path: Path) -> None:
    # The last record claims more bytes than the stream holds: the walk stops, nothing is read past it.
    def overlong(stream: bytearray) -> None:
        at = stream.rindex(b"\x0a\x00\x00\x00")  # the last EOF record
        stream[at + 2 : at + 4] = b"\xff\xff"

    data = _with_workbook_stream(tmp_path, _roster(), overlong)
    assert xls.worksheet_grids(io.BytesIO(data)) == [xls.Grid(3, len(HEADER_ZH))]
