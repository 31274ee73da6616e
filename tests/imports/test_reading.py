"""Streaming CSV and XLSX reading: row numbers, blank rows, merged cells, hostile workbooks."""

from __future__ import annotations

import io
import tracemalloc
import zipfile
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import openpyxl.xml
import pytest
import python_calamine

from app.imports.read.decoding import RosterFileError
from app.imports.read.reading import RawRow, ReadLimits, RosterSource, open_roster
from app.imports.read.spool import RowSpool
from tests.imports.conftest import HEADER_EN, HEADER_ZH, csv_bytes, good_row, xlsx_path


def read_all(source: bytes | Path, **options: object) -> tuple[list[RawRow], int]:
    """Rows and the count of skipped blank rows."""
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    with open_roster(stream, **options) as reader:  # type: ignore[arg-type]
        rows = list(reader)
        return rows, reader.blank_rows_skipped


def file_error(source: bytes | Path, **options: object) -> RosterFileError:
    """Read expecting a whole-file error."""
    with pytest.raises(RosterFileError) as caught:
        read_all(source, **options)
    return caught.value


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_encodings_read_identically(encoding: str) -> None:
    rows, _ = read_all(csv_bytes([good_row(1), good_row(2)], encoding=encoding))
    assert [r.row_number for r in rows] == [2, 3]
    assert rows[0].cells["name"] == "示范户1" and rows[0].cells["kind"] == "农户"


def _with_unclosed_quote(row: int, *, final_newline: bool = True) -> bytes:
    """Five good rows whose `row`-th (1-based data row) opens a quote in its name and never closes it."""
    # Cells without commas, so no later quoted cell closes the stray quote.
    data = csv_bytes([[*good_row(n)[:6], "技术、物流", "2"] for n in range(1, 6)]).decode()
    lines = data.split("\r\n")
    lines[row] = lines[row].replace(f"示范户{row}", f'"示范户{row}', 1)
    text = "\r\n".join(lines)
    return (text if final_newline else text.removesuffix("\r\n")).encode()


@pytest.mark.parametrize(
    ("row", "final_newline"), [(2, True), (5, True), (5, False)], ids=["mid-file", "last-row", "no-final-eol"]
)
def test_an_unclosed_quote_refuses_the_file_instead_of_swallowing_rows(row: int, final_newline: bool) -> None:
    # The quote made every later line one cell of that row: rows 4-6 vanished without a word.
    error = file_error(_with_unclosed_quote(row, final_newline=final_newline))
    assert error.code == "csv_unclosed_quote"
    assert f"CSV row {row + 1} " in error.message_en and f"第 {row + 1} 行" in error.message_zh


def test_a_quoted_cell_over_several_lines_is_still_one_cell() -> None:
    first = good_row(1)
    first[1] = "示范户\r\n第二行"  # Alt+Enter in Excel: a line break inside a quoted cell
    rows, _ = read_all(csv_bytes([first, good_row(2)]))
    assert [(r.row_number, r.cells["name"]) for r in rows] == [(2, "示范户\r\n第二行"), (3, "示范户2")]
    unclosed_after = csv_bytes([first]) + b'E9,"open,mentor\r\n'
    error = file_error(unclosed_after)
    assert error.code == "csv_unclosed_quote" and "(from line 4 of the file)" in error.message_en


def test_blank_rows_middle_counted_trailing_ignored() -> None:
    empty = [""] * len(HEADER_ZH)
    data = csv_bytes([good_row(1), empty, empty, good_row(2), empty, empty, empty])
    rows, skipped = read_all(data)
    assert [r.row_number for r in rows] == [2, 5]
    assert skipped == 2


def test_serial_number_alone_is_a_blank_row() -> None:
    header = ["序号", *HEADER_ZH]
    data = csv_bytes([["1", *good_row(1)], ["2"], ["3"]], header=header)
    rows, skipped = read_all(data)
    assert [r.row_number for r in rows] == [2] and skipped == 0


def test_title_banner_above_header() -> None:
    data = csv_bytes([HEADER_EN, good_row(1)], header=["曹县大集镇电商示范户名单"])
    with open_roster(io.BytesIO(data)) as reader:
        assert reader.header_row == 2
        assert [r.row_number for r in reader] == [3]


def test_quoted_newline_is_one_spreadsheet_row() -> None:
    row = good_row(1)
    row[1] = "张三\n家庭农场"
    rows, _ = read_all(csv_bytes([row, good_row(2)]))
    assert [r.row_number for r in rows] == [2, 3]
    assert rows[0].cells["name"] == "张三\n家庭农场"


def test_tab_separated_utf16_unicode_text() -> None:
    text = "\t".join(HEADER_ZH) + "\r\n" + "\t".join(good_row(1)) + "\r\n"
    rows, _ = read_all(b"\xff\xfe" + text.encode("utf-16-le"))
    assert rows[0].cells["phone"] == "13800000001"


@pytest.mark.parametrize("delimiter", ["\t", ";"])
def test_a_title_with_a_comma_does_not_choose_the_delimiter(delimiter: str) -> None:
    lines = ["扎下镇示范户名单（2026, 第一批）", delimiter.join(HEADER_ZH), delimiter.join(good_row(1))]
    rows, _ = read_all(("\r\n".join(lines) + "\r\n").encode("utf-8"))
    assert [r.cells["phone"] for r in rows] == ["13800000001"]


def test_semicolons_in_one_note_do_not_split_a_comma_file() -> None:
    row = good_row(1)
    row[-1] = "一;二;三;四;五;六;七;八;九;十;十一"
    rows, _ = read_all(csv_bytes([row, good_row(2)]))
    assert [r.cells["phone"] for r in rows] == ["13800000001", "13800000002"]


def test_ten_thousand_columns_is_a_file_error() -> None:
    header = HEADER_ZH + [f"x{i}" for i in range(10_000)]
    error = file_error(csv_bytes([good_row(1)], header=header))
    assert error.code == "too_many_columns"


def test_xlsx_rows_numbers_and_number_cells(tmp_path: Path) -> None:
    path = xlsx_path(
        tmp_path,
        [
            ["E1", "示范户", "农户", 13800138000, 371721101, "苹果", "技术", 3],
            [None] * 8,
            ["E2", "合作社", "合作社", 13900139000.0, 371721101203, "梨", "物流", None],
            [None] * 8,
        ],
    )
    rows, skipped = read_all(path)
    assert [r.row_number for r in rows] == [2, 4] and skipped == 1
    assert rows[0].cells["phone"] == "13800138000" and rows[0].cells["region_code"] == "371721101"
    assert rows[1].cells["phone"] == "13900139000" and rows[1].cells["capacity"] == ""


def test_xlsx_named_sheet_and_missing_sheet(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    first = workbook.active
    assert first is not None
    first.title = "说明"
    first.append(["本表填写说明"])
    second = workbook.create_sheet("名单")
    second.append(HEADER_ZH)
    second.append(good_row(1))
    path = tmp_path / "two.xlsx"
    workbook.save(path)
    rows, _ = read_all(path, sheet_name="名单")
    assert rows[0].cells["external_id"] == "E0001"
    assert file_error(path, sheet_name="不存在").code == "sheet_not_found"


def test_xlsx_vertically_merged_cells_fill_down(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(HEADER_ZH)
    sheet.append(good_row(1))
    sheet.append(good_row(2))
    sheet["E3"] = None  # region code merged over rows 2-3
    sheet.merge_cells("E2:E3")
    sheet.merge_cells("B1:B1")
    path = tmp_path / "merged.xlsx"
    workbook.save(path)
    rows, _ = read_all(path)
    assert [r.cells["region_code"] for r in rows] == ["371721101", "371721101"]


def test_truncated_xlsx_is_corrupt(tmp_path: Path) -> None:
    data = xlsx_path(tmp_path, [good_row(n) for n in range(200)]).read_bytes()
    assert file_error(data[: len(data) // 2], filename="roster.xlsx").code == "xlsx_corrupt"


def test_damaged_sheet_data_is_corrupt(tmp_path: Path) -> None:
    path = xlsx_path(tmp_path, [good_row(n) for n in range(2000)])
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("xl/worksheets/sheet1.xml")
    middle = info.header_offset + 30 + len(info.filename) + info.compress_size // 2
    data[middle : middle + 64] = b"\x00" * 64
    assert file_error(bytes(data)).code == "xlsx_corrupt"


def test_zip_that_is_not_a_workbook(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("roster.csv", "a,b\n")
    assert file_error(buffer.getvalue()).code == "not_a_roster"


def test_declared_uncompressed_size_is_bounded(tmp_path: Path) -> None:
    path = xlsx_path(tmp_path, [good_row(1)])
    error = file_error(path, limits=ReadLimits(max_xlsx_uncompressed_bytes=1_000))
    assert error.code == "file_too_large"


_SPREADSHEET_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def _shared_string_workbook(
    rows: list[list[str]], *, filler: int = 0, part: str = "sharedStrings.xml"
) -> bytes:
    """An XLSX the way Excel saves one: every text cell an index into the shared-string table (`part`,
    under xl/), which carries `filler` strings no cell uses."""
    strings: list[str] = []
    cells = []
    for r, row in enumerate(rows, start=1):
        refs = "".join(
            f'<c r="{chr(65 + c)}{r}" t="s"><v>{len(strings) + c}</v></c>' for c in range(len(row))
        )
        strings.extend(row)
        cells.append(f'<row r="{r}">{refs}</row>')
    entries = "".join(f"<si><t>{t}</t></si>" for t in [*strings, *(f"unused {i}" for i in range(filler))])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "[Content_Types].xml",
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>',
        )
        z.writestr(
            "_rels/.rels",
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{_REL_NS}/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>",
        )
        z.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{_SPREADSHEET_NS}" xmlns:r="{_REL_NS}">'
            '<sheets><sheet name="名单" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        z.writestr(
            "xl/_rels/workbook.xml.rels",
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{_REL_NS}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{_REL_NS}/sharedStrings" Target="{part}"/></Relationships>',
        )
        z.writestr(
            "xl/worksheets/sheet1.xml",
            f'<worksheet xmlns="{_SPREADSHEET_NS}"><sheetData>{"".join(cells)}</sheetData></worksheet>',
        )
        z.writestr(f"xl/{part}", f'<sst xmlns="{_SPREADSHEET_NS}">{entries}</sst>')
    return buffer.getvalue()


def test_a_shared_string_table_is_bounded_before_calamine_loads_it() -> None:
    # calamine loads the whole table at open: a 20 MB upload of repeated text unfolded into 700 MB.
    roster = [HEADER_ZH, good_row(1), good_row(2)]
    rows, _ = read_all(_shared_string_workbook(roster, filler=40))
    assert [(r.row_number, r.cells["name"]) for r in rows] == [(2, "示范户1"), (3, "示范户2")]
    for workbook, limits in [
        (_shared_string_workbook(roster, filler=40), ReadLimits(max_shared_strings=50)),
        (
            _shared_string_workbook(roster, filler=40, part="strings/table.xml"),
            ReadLimits(max_shared_strings=50),
        ),
        (_shared_string_workbook(roster), ReadLimits(max_shared_strings_bytes=500)),
    ]:
        error = file_error(workbook, limits=limits)
        assert error.code == "file_too_large" and "shared-string" in error.message_en
    assert read_all(_shared_string_workbook(roster, filler=20), limits=ReadLimits(max_shared_strings=50))[0]


def _replace_part(path: Path, part: str, content: bytes) -> bytes:
    """Copy an xlsx, swapping one part for hostile content."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            target.writestr(item, content if item.filename == part else source.read(item))
    return buffer.getvalue()


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE worksheet [
 <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
 <!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
 <!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
 <!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">
]>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
<row r="1"><c r="A1" t="inlineStr"><is><t>&g;</t></is></c></row>
</sheetData></worksheet>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE worksheet [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
<row r="1"><c r="A1" t="inlineStr"><is><t>&x;</t></is></c></row>
</sheetData></worksheet>"""


def test_openpyxl_uses_defusedxml() -> None:
    assert openpyxl.xml.DEFUSEDXML is True


@pytest.mark.parametrize(
    ("part", "content"),
    [
        ("xl/worksheets/sheet1.xml", BILLION_LAUGHS),
        ("xl/worksheets/sheet1.xml", EXTERNAL_ENTITY),
        ("xl/workbook.xml", BILLION_LAUGHS.replace(b"worksheet", b"workbook")),
    ],
)
def test_entity_tricks_refused_without_expanding(tmp_path: Path, part: str, content: bytes) -> None:
    hostile = _replace_part(xlsx_path(tmp_path, [good_row(1)]), part, content)
    tracemalloc.start()
    try:
        error = file_error(hostile)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert error.code == "xlsx_unsafe"
    # Memory, not time, shows an expansion (time would only measure the machine's load).
    assert peak < 20 * 1024 * 1024


class GeneratedCsv(io.RawIOBase):
    """A one-way CSV stream of n rows produced on the fly, so the test itself holds no file."""

    def __init__(self, n: int) -> None:
        self._lines: Iterator[bytes] = self._generate(n)
        self._buffer = b""

    @staticmethod
    def _generate(n: int) -> Iterator[bytes]:
        yield (",".join(HEADER_ZH) + "\r\n").encode()
        for i in range(n):
            yield (",".join(good_row(i)) + "\r\n").encode()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while len(self._buffer) < size:
            line = next(self._lines, None)
            if line is None:
                break
            self._buffer += line
        chunk, self._buffer = self._buffer[:size], self._buffer[size:]
        return chunk


def _peak_reading(n: int) -> int:
    """Peak traced memory while streaming n rows."""
    tracemalloc.start()
    try:
        with open_roster(GeneratedCsv(n)) as reader:
            count = sum(1 for _ in reader)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == n
    return peak


def test_memory_stays_flat_in_file_size() -> None:
    small, large = _peak_reading(2_000), _peak_reading(16_000)
    assert large < small * 1.5 + 256 * 1024


def _ods(rows: list[list[str]]) -> bytes:
    """A minimal OpenDocument spreadsheet, as LibreOffice lays one out (mimetype first, stored)."""

    def cell(text: str) -> str:
        return f'<table:table-cell office:value-type="string"><text:p>{text}</text:p></table:table-cell>'

    body = "".join(f"<table:table-row>{''.join(cell(c) for c in row)}</table:table-row>" for row in rows)
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f'<office:body><office:spreadsheet><table:table table:name="名单">{body}</table:table>'
        "</office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
        'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED)
        archive.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
        archive.writestr("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def test_ods_roster_is_read(tmp_path: Path) -> None:
    data = _ods([HEADER_ZH, good_row(2), good_row(3)])
    with open_roster(io.BytesIO(data), filename="roster.ods") as reader:
        assert reader.format == "ods" and reader.sheet_title == "名单"
        rows = list(reader)
    assert [r.row_number for r in rows] == [2, 3]
    assert rows[0].cells["name"] == good_row(2)[1] and rows[1].cells["phone"] == good_row(3)[3]


def test_ods_with_a_dtd_is_refused() -> None:
    data = _ods([HEADER_ZH, good_row(2)])
    hostile = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(hostile, "w") as target:
        for item in source.infolist():
            part = source.read(item)
            if item.filename == "content.xml":
                part = part.replace(b"?>", b'?><!DOCTYPE x [<!ENTITY a "aaaa">]>', 1)
            target.writestr(item, part)
    assert file_error(hostile.getvalue()).code == "xlsx_unsafe"


def test_workbook_row_limit_is_checked_before_the_sheet_is_loaded(tmp_path: Path) -> None:
    path = xlsx_path(tmp_path, [good_row(n) for n in range(50)])
    assert file_error(path, limits=ReadLimits(max_rows=10)).code == "too_many_rows"


def test_row_spool_reads_back_every_row_in_order_any_number_of_times() -> None:
    spool = RowSpool()
    rows = [(n, [f"c{n}", "", "长文本" * (n % 7)]) for n in range(1, 2_600)]
    for row_number, cells in rows:
        spool.append(row_number, cells)
    spool.finish()
    first, second = iter(spool), iter(spool)
    assert next(first) == rows[0]
    assert list(second) == rows  # a second iterator is not disturbed by the first
    assert [rows[0], *first] == rows
    spool.close()


def test_a_workbook_source_parses_the_sheet_once_for_every_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = xlsx_path(tmp_path, [good_row(n) for n in range(1, 30)])
    parsed = []
    real = python_calamine.CalamineWorkbook.from_filelike

    def counting(stream: object) -> python_calamine.CalamineWorkbook:
        parsed.append(1)
        return real(stream)  # type: ignore[arg-type]

    monkeypatch.setattr(python_calamine.CalamineWorkbook, "from_filelike", counting)
    source = RosterSource(path.read_bytes(), filename="roster.xlsx", content_type=None, sheet_name=None)
    try:
        with source.open() as reader:
            first = list(reader)
            assert reader.sheet_title == "名单"
        with source.open() as reader:
            second = list(reader)
            assert reader.sheet_title == "名单" and reader.header_row == 1
    finally:
        source.close()
    assert parsed == [1]
    assert first == second and [r.row_number for r in first] == list(range(2, 31))
    assert first == read_all(path)[0]  # the same rows as a one-off read


def test_a_csv_source_reads_the_same_rows_on_each_open() -> None:
    data = csv_bytes([good_row(n) for n in range(1, 12)], encoding="gbk")
    source = RosterSource(data, filename="roster.csv", content_type=None, sheet_name=None)
    with source.open() as reader:
        first = list(reader)
    with source.open() as reader:
        second = list(reader)
    source.close()
    assert first == second == read_all(data)[0] and len(first) == 11


def _inflated(path: Path, padding: int) -> bytes:
    """The workbook with `padding` spaces after its sheet's XML: valid XML that deflates about 1000:1."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data += b" " * padding
            out.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def test_a_part_that_inflates_like_a_bomb_is_refused(tmp_path: Path) -> None:
    limits = ReadLimits(ratio_checked_from_bytes=1024 * 1024)
    path = xlsx_path(tmp_path, [good_row(n) for n in range(1, 50)])
    bomb = _inflated(path, 4 * 1024 * 1024)
    error = file_error(bomb, limits=limits)
    assert error.code == "file_too_large" and "hundreds of times" in error.message_en
    # The same rows saved as they are: read, even with every part's ratio checked.
    rows, _ = read_all(path, limits=ReadLimits(ratio_checked_from_bytes=0))
    assert len(rows) == 49


def test_a_real_roster_inflates_far_less_than_the_bound(tmp_path: Path) -> None:
    path = xlsx_path(tmp_path, [good_row(n) for n in range(1, 2_000)])
    with zipfile.ZipFile(path) as archive:
        worst = max(i.file_size / max(i.compress_size, 1) for i in archive.infolist() if i.file_size > 10_000)
    assert worst < ReadLimits().max_compression_ratio / 4
