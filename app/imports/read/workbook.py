"""Workbooks (XLSX, .xls, .ods) read with python-calamine, behind the checks that keep them safe.

calamine (Rust) parses a sheet in one call, about ten times faster than openpyxl's streaming reader,
but it holds the whole sheet in memory. So before it sees the file:
- the archive (XLSX, ODS) is opened with zipfile: its declared sizes are bounded, every part is
  inflated once to check that it matches its declared size and CRC (a zip bomb fails here), and a
  DTD (the entity tricks of "billion laughs") is refused in any XML part;
- the chosen XLSX sheet's XML is streamed once to count its rows against the row limit and to find
  formula cells that have no cached value (calamine reads them as blank; they must be reported);
- an .xls is a plain OLE2 file: its size is the upload's, so nothing can inflate; but one far value
  cell makes calamine allocate a huge grid, so each sheet's extent is read from its BIFF records
  first (xls.py).
Merged cells come from calamine and are filled downwards, as a person reading the sheet would. The
sheet's rows are then spooled to a temporary file (spool.py) and the workbook is freed, so the whole
sheet is in memory only while it is converted, and later passes do not parse it again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import posixpath
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, Final
from xml.parsers import expat

import python_calamine
from defusedxml import ElementTree

from app.imports.read import xls
from app.imports.read.decoding import FileFormat, RosterFileError
from app.imports.read.limits import ReadLimits
from app.imports.read.spool import RowSpool

RowCells = tuple[int, list[str]]

_FORMAT_NAMES: Final = {"xlsx": "Excel (.xlsx)", "xls": "Excel 97-2003 (.xls)", "ods": "OpenDocument (.ods)"}
_INFLATE_CHUNK: Final = 1 << 20
_DTD_RE: Final = re.compile(rb"<!DOCTYPE|<!ENTITY")
_STRING_ENTRY_RE: Final = re.compile(rb"<(?:\w+:)?si[\s>/]")


def corrupt(fmt: str) -> RosterFileError:
    """The error for a workbook we cannot read."""
    name = _FORMAT_NAMES.get(fmt, "Excel")
    return RosterFileError(
        f"{fmt}_corrupt" if fmt in _FORMAT_NAMES else "xlsx_corrupt",
        f"{name} 文件已损坏或不完整，无法读取。请在 Excel 中重新保存后上传。",
        f"The {name} file is damaged or incomplete. Re-save it in Excel and upload again.",
    )


def encrypted() -> RosterFileError:
    """The error for a password-protected workbook (we cannot, and should not, open it)."""
    return RosterFileError(
        "file_encrypted",
        "文件设置了打开密码，无法读取。请在 Excel 中取消密码（“文件”→“信息”→“保护工作簿”→“用密码进行加密”，"
        "清空密码）后保存并重新上传。",
        "The file is password-protected and cannot be read. Remove the password in Excel "
        "(File → Info → Protect Workbook → Encrypt with Password, clear it), save, and upload again.",
    )


# A password-protected .xlsx is not a zip: Office wraps it in an OLE2 file (like an .xls) holding
# these streams, named in UTF-16 in the file's directory.
_ENCRYPTED_STREAMS: Final = ("EncryptedPackage".encode("utf-16-le"), "EncryptionInfo".encode("utf-16-le"))


def _is_encrypted(stream: IO[bytes], fmt: FileFormat) -> bool:
    """Whether an OLE2 file that calamine cannot open is an encrypted Office document."""
    if fmt != "xls":
        return False
    stream.seek(0)
    data = stream.read()
    return any(name in data for name in _ENCRYPTED_STREAMS)


def _unsafe() -> RosterFileError:
    return RosterFileError(
        "xlsx_unsafe",
        "Excel 文件包含不安全的 XML 内容（实体声明），已拒绝。请在 Excel 中重新保存后上传。",
        "The Excel file contains unsafe XML (entity declarations) and was refused. Re-save it in Excel.",
    )


def too_many_rows(limit: int) -> RosterFileError:
    """The whole-file error for more rows than an import takes."""
    return RosterFileError(
        "too_many_rows",
        f"文件超过 {limit} 行的上限，请拆分后分批导入。",
        f"The file has more than {limit} rows; split it and import the parts separately.",
    )


def cell_text(value: object) -> str:
    """A cell value as the text a person sees (integral floats without ".0")."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        # calamine decodes Excel's "_x0000_" escape to NUL: no cell shows it, and PostgreSQL refuses it
        # in text and JSON, so a single one failed the whole import. (A CSV with NUL is not text at all.)
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        # Phones and region codes typed as numbers come back as floats.
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


# ---------------------------------------------------------------- the archive


def check_archive(stream: IO[bytes], fmt: FileFormat, limits: ReadLimits) -> zipfile.ZipFile:
    """Open an XLSX/ODS zip after refusing bombs, damaged parts and DTDs; the caller closes it."""
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise corrupt(fmt) from exc
    try:
        infos = archive.infolist()
        names = {info.filename for info in infos}
        is_workbook = (
            "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names)
            if fmt == "xlsx"
            else "content.xml" in names
        )
        if not is_workbook:
            raise RosterFileError(
                "not_a_roster",
                "上传的压缩文件不是电子表格工作簿（.xlsx 或 .ods）。",
                "The uploaded zip file is not a spreadsheet workbook (.xlsx or .ods).",
            )
        if sum(info.file_size for info in infos) > limits.max_xlsx_uncompressed_bytes:
            raise RosterFileError(
                "file_too_large",
                "Excel 文件解压后过大，请拆分后上传。",
                "The Excel file is too large once uncompressed; split it and upload the parts.",
            )
        if any(_inflates_like_a_bomb(info, limits) for info in infos):
            raise RosterFileError(
                "file_too_large",
                "文件解压后的大小是上传大小的数百倍，不像正常的名单；请另存为新的工作簿后再上传。",
                "The file inflates to hundreds of times its size, unlike any roster; save it as a new"
                " workbook and upload that.",
            )
        for info in infos:
            _verify_part(archive, info, limits if fmt == "xlsx" and _loaded_whole(info) else None)
    except RosterFileError:
        archive.close()
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        archive.close()
        raise corrupt(fmt) from exc
    return archive


def _inflates_like_a_bomb(info: zipfile.ZipInfo, limits: ReadLimits) -> bool:
    """A large part that inflates more than max_compression_ratio times its stored size."""
    return (
        info.file_size >= limits.ratio_checked_from_bytes
        and info.file_size > limits.max_compression_ratio * max(info.compress_size, 1)
    )


def _loaded_whole(info: zipfile.ZipInfo) -> bool:
    """An XML part outside the worksheets: the shared strings (wherever the rels point) and the styles,
    which calamine loads whole when the workbook opens, before any sheet is chosen."""
    name = info.filename.lower()
    return name.endswith(".xml") and not name.startswith(("xl/worksheets/", "xl/chartsheets/"))


def _too_many_strings() -> RosterFileError:
    """Whole-file error: more text in the parts loaded at open than the bounds allow."""
    return RosterFileError(
        "file_too_large",
        "Excel 文件中的文字内容过多（共享字符串表过大），请拆分后上传。",
        "The Excel file holds too much text (its shared-string table is too large); split it and upload "
        "the parts.",
    )


def _too_much_text(limit: int) -> RosterFileError:
    """Whole-file error: more cell text in the sheet than calamine may hold."""
    mb = limit // (1024 * 1024)
    return RosterFileError(
        "file_too_large",
        f"工作表中的文字内容过多（超过 {mb} MB），请拆分后上传。",
        f"The sheet holds too much text (more than {mb} MB in its cells); split it and upload the parts.",
    )


# Character data after a tag that is not only white space (indentation between tags is not text).
_CHAR_DATA_RE: Final = re.compile(rb">\s*([^<\s][^<]*)")


class CellText:
    """Bound the text in a sheet's XML (inline strings, ODS cells), which calamine holds whole.

    Shared strings are bounded where they are stored; this counts the character data of the sheet
    part itself, chunk by chunk as it inflates. Text is never more than the part's bytes, so a part
    within the budget is not counted at all (a 100k-row roster's sheet is about 50 MB).
    """

    def __init__(self, part_size: int, limits: ReadLimits, max_carry: int = _INFLATE_CHUNK) -> None:
        self.limit = limits.max_cell_text_bytes
        self.counting = part_size > self.limit
        self.total = 0
        # The data from its last "<" on, whose run of text may go on in the next chunk. It starts as if
        # after a tag; a run or a tag longer than max_carry is counted as it goes and leaves one byte
        # saying which it was in.
        self._carry = b">"
        self._max_carry = max_carry

    def add(self, chunk: bytes) -> None:
        """Count one chunk; raise file_too_large once the sheet's text is over the budget."""
        if not self.counting:
            return
        data = self._carry + chunk
        cut = data.rfind(b"<")
        if cut > 0:
            self.total += sum(map(len, _CHAR_DATA_RE.findall(data, 0, cut)))
            self._carry = data[cut:]
        elif len(data) <= self._max_carry:
            self._carry = data
        else:  # inside one long run of text (or one long tag) since the carry began
            self.total += sum(map(len, _CHAR_DATA_RE.findall(data)))
            self._carry = b">" if data.rfind(b">") > cut else b"<"
        if self.total > self.limit:
            raise _too_much_text(self.limit)


def _verify_part(archive: zipfile.ZipFile, info: zipfile.ZipInfo, strings: ReadLimits | None = None) -> None:
    """Inflate one part: zipfile stops at its declared size and checks the CRC; refuse a DTD.

    With `strings`, the part is one calamine loads whole at open: its size and its count of string
    entries (<si>) are bounded too, counted while it inflates.
    """
    if strings is not None and info.file_size > strings.max_shared_strings_bytes:
        raise _too_many_strings()
    with archive.open(info) as part:
        chunk = part.read(4096)
        if info.filename.endswith((".xml", ".rels")) and _DTD_RE.search(chunk):
            raise _unsafe()
        carry, entries = b"", 0
        while chunk:
            if strings is not None:
                # A tag cut by the chunk boundary is whole in carry + chunk; one wholly inside the carry
                # was counted with the chunk before.
                data = carry + chunk
                entries += sum(1 for m in _STRING_ENTRY_RE.finditer(data) if m.end() > len(carry))
                if entries > strings.max_shared_strings:
                    raise _too_many_strings()
                carry = data[-8:]
            chunk = part.read(_INFLATE_CHUNK)


def _xlsx_sheet_part(archive: zipfile.ZipFile, title: str) -> str | None:
    """The zip path of the worksheet named title (workbook.xml names it, its rels locate it)."""
    ns_main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    ns_rel = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
    workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    rel_id = next(
        (s.get(f"{ns_rel}id") for s in workbook.iter(f"{ns_main}sheet") if s.get("name") == title), None
    )
    rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    for rel in rels:
        if rel.get("Id") == rel_id:
            target = rel.get("Target", "")
            return target.lstrip("/") if target.startswith("/") else posixpath.normpath(f"xl/{target}")
    return None


# ---------------------------------------------------------------- the sheet XML scan

_FORMULA_RE: Final = re.compile(rb"<(?:\w+:)?f[\s>/]")
_ROW_RE: Final = re.compile(rb"<(?:\w+:)?row[\s>/]")
_CELL_REF_RE: Final = re.compile(rb"""\sr=["']([A-Z]+)(\d+)["']""")
_CELL_END_RE: Final = re.compile(rb"</(?:\w+:)?c>")
_PLAIN_ROW_RE: Final = re.compile(rb"<row[\s>/]")
# A cached value is a non-empty <v> (programs write an empty <v/> next to a formula) or an inline string.
_VALUE_RE: Final = re.compile(rb"<(?:\w+:)?v(?:\s[^>]*)?>[^<]|<(?:\w+:)?is[\s>]")


# Where a cell says it is: r="C12" (either quote), unless the tag closes itself (<c r="XFD9" s="1"/>,
# a formatted empty cell, which calamine skips). calamine places cells by these references, so they,
# not the number of tags, decide the size of the grid it allocates. A space before r= is what every
# writer puts there, and a literal start is searched several times faster than any white space.
_CELL_ROW_RE: Final = re.compile(rb""" r="[A-Z]{1,3}([0-9]+)"(?![^>]*/>)""")  # what writers write
_ANY_QUOTE_CELL_ROW_RE: Final = re.compile(rb""" r=["'][A-Z]{1,3}([0-9]+)["'](?![^>]*/>)""")
_ANY_SPACE_CELL_ROW_RE: Final = re.compile(rb"""\sr=["'][A-Z]{1,3}([0-9]+)["'](?![^>]*/>)""")
# Columns past Z only: a sheet within A:Z is counted 26 wide, which the default budget allows for
# every row the row limit allows (26 x 200,006 < 6M), so the common sheet skips a second pattern.
_WIDE_COLUMN_RE: Final = re.compile(rb""" r=["']([A-Z]{2,3})[0-9]+["'](?![^>]*/>)""")
_ANY_SPACE_WIDE_COLUMN_RE: Final = re.compile(rb"""\sr=["']([A-Z]{2,3})[0-9]+["'](?![^>]*/>)""")
_NARROW_WIDTH: Final = 26


# Cells without r= (some generators write none) go in their row, wherever its r= says; once a sheet
# has one, every row's reference counts. Excel and the usual libraries always write r= on cells.
_REFLESS_CELL_RE: Final = re.compile(rb"<c(?:>|\s(?![^>]*\br=)[^>]*(?<!/)>)")
_PREFIXED_REFLESS_CELL_RE: Final = re.compile(rb"<(?:\w+:)?c(?:>|\s(?![^>]*\br=)[^>]*(?<!/)>)")
_ROW_REF_RE: Final = re.compile(rb"""<row\s[^>]*?\br=["']([0-9]+)["']""")
_PREFIXED_ROW_REF_RE: Final = re.compile(rb"""<(?:\w+:)?row\s[^>]*?\br=["']([0-9]+)["']""")


@dataclass(slots=True)
class SheetScan:
    """What the sheet XML says beyond cell values: its extent, formulas without a value."""

    rows: int  # row tags seen
    formulas: dict[int, set[int]]  # {row: {1-based columns whose formula has no cached value}}
    # {row: {1-based column: "#N/A"}}: error cells, which calamine reads as blank.
    errors: dict[int, dict[int, str]] = dataclasses.field(default_factory=dict)
    last_row: int = 0  # the furthest row a cell with content names (or a row, see refless_cells)
    last_column: int = 0  # the furthest column a cell with content names
    refless_cells: bool = False  # a cell without r= seen: rows' own r= count from then on
    last_row_tag: int = 0  # the furthest row a <row r=...> names, empty or not

    @property
    def height(self) -> int:
        """Rows calamine's grid will have: the furthest reference, or the tags when they name none."""
        return max(self.rows, self.last_row)


def _column_number(letters: bytes) -> int:
    number = 0
    for char in letters:
        number = number * 26 + char - 64
    return number


def _row_tags(chunk: bytes) -> int:
    """The number of <row> start tags in a chunk (as _ROW_RE counts them)."""
    if b":row" in chunk:  # a namespace prefix: let the pattern find them
        return len(_ROW_RE.findall(chunk))
    # Unprefixed only: a pattern that starts with "<row" is searched for as a literal, several times
    # faster than one that is tried at every "<" of the sheet.
    return len(_PLAIN_ROW_RE.findall(chunk))


def too_large(rows: int, columns: int, limit: int) -> RosterFileError:
    """The whole-file error for a sheet whose used area (rows x columns) is over the cell budget."""
    return RosterFileError(
        "sheet_too_large",
        f"工作表的使用区域过大（{rows} 行 × {columns} 列，超过 {limit} 个单元格）。"
        "请删除名单右侧或下方的多余内容，或拆分后分批导入。",
        f"The sheet's used area is too large ({rows} rows x {columns} columns, more than {limit} cells). "
        "Delete stray cells to the right of or below the roster, or split the file.",
    )


def check_extent(rows: int, columns: int, limits: ReadLimits) -> None:
    """Refuse a sheet whose grid would exceed the row limit or the cell budget, before it is loaded."""
    if rows > limits.max_rows + limits.header_search_rows + 1:  # room for banners and the header
        raise too_many_rows(limits.max_rows)
    if rows * max(columns, 1) > limits.max_sheet_cells:
        raise too_large(rows, columns, limits.max_sheet_cells)


def _note_references(chunk: bytes, scan: SheetScan) -> None:
    """Raise scan.last_row / last_column to the furthest cell with content in chunk."""
    row_re, column_re = _CELL_ROW_RE, _WIDE_COLUMN_RE
    if b"r='" in chunk:
        row_re = _ANY_QUOTE_CELL_ROW_RE
    if b"\tr=" in chunk or b"\nr=" in chunk or b"\rr=" in chunk:  # a tab or line break before r=
        row_re, column_re = _ANY_SPACE_CELL_ROW_RE, _ANY_SPACE_WIDE_COLUMN_RE
    # Sets of the matched bytes are built in C; only their few distinct values are converted.
    rows = set(row_re.findall(chunk))
    if rows:
        scan.last_row = max(scan.last_row, max(map(int, rows)))
        scan.last_column = max(scan.last_column, _NARROW_WIDTH)
    columns = set(column_re.findall(chunk))
    if columns:
        scan.last_column = max(scan.last_column, _column_number(max(columns, key=lambda c: (len(c), c))))
    prefixed = b":c" in chunk or b":row" in chunk
    # Every writer puts r= first: only a chunk with more cell tags than "<c r=" needs the pattern.
    refless = prefixed or chunk.count(b"<c ") + chunk.count(b"<c>") > chunk.count(b"<c r=")
    if refless and not scan.refless_cells:
        pattern = _PREFIXED_REFLESS_CELL_RE if prefixed else _REFLESS_CELL_RE
        scan.refless_cells = pattern.search(chunk) is not None
    tags = set((_PREFIXED_ROW_REF_RE if prefixed else _ROW_REF_RE).findall(chunk))
    if tags:
        scan.last_row_tag = max(scan.last_row_tag, max(map(int, tags)))
    if scan.refless_cells:  # the row of a refless cell may have opened in an earlier chunk
        scan.last_row = max(scan.last_row, scan.last_row_tag)


def _valueless_formulas(data: bytes, end: int, found: dict[int, set[int]]) -> None:
    """Record formula cells without a cached value among the complete cells of data[:end]."""
    if b"<f" not in data and b":f" not in data:
        return  # no formula tag can start here (the common case): skip the pattern
    for match in _FORMULA_RE.finditer(data, 0, end):
        start = max(data.rfind(b"<c ", 0, match.start()), data.rfind(b":c ", 0, match.start()))
        close = _CELL_END_RE.search(data, match.end(), end)
        if start < 0 or close is None:
            continue
        cell = data[start : close.end()]
        if _VALUE_RE.search(cell):
            continue
        ref = _CELL_REF_RE.search(cell, 0, cell.find(b">") + 1)
        if ref is not None:
            found.setdefault(int(ref.group(2)), set()).add(_column_number(ref.group(1)))


_ERROR_CELL_RE: Final = re.compile(rb"""<(?:\w+:)?c\s[^>]*?\bt=["']e["'][^>]*>""")
_CACHED_RE: Final = re.compile(rb"<(?:\w+:)?v(?:\s[^>]*)?>([^<]*)<")
# An error value is one of Excel's few codes ("#N/A", "#DIV/0!", "#GETTING_DATA"); more is not one.
_MAX_ERROR_CHARS: Final = 32


def _error_cells(data: bytes, end: int, found: dict[int, dict[int, str]]) -> None:
    """Record error cells (t="e": #N/A, #DIV/0! ...) among the complete cells of data[:end]."""
    if b't="e"' not in data and b"t='e'" not in data:
        return  # no error cell here (the common case): skip the pattern
    for match in _ERROR_CELL_RE.finditer(data, 0, end):
        ref = _CELL_REF_RE.search(match.group())
        if ref is None:
            continue
        text = ""
        if not match.group().endswith(b"/>"):  # <c r="A1" t="e"/> holds no value to quote
            close = _CELL_END_RE.search(data, match.end(), end)
            if close is None:
                continue
            cached = _CACHED_RE.search(data, match.end(), close.start())
            text = cached.group(1).decode("utf-8", "replace").strip()[:_MAX_ERROR_CHARS] if cached else ""
        found.setdefault(int(ref.group(2)), {})[_column_number(ref.group(1))] = text or "#ERROR"


def scan_sheet_xml(source: IO[bytes], limits: ReadLimits, part_size: int = 0) -> SheetScan:
    """Stream a worksheet part once: bound its extent (rows, and rows x columns) and find valueless formulas.

    The extent is what calamine will allocate: a cell at XFD1048576 in a 2 KB file makes it a grid
    of 17 billion cells, so the furthest r="..." reference counts, not the number of cells. Formulas
    are rare, so only the bytes around a <f> tag are parsed; a sheet over a limit stops the scan at
    once, before anything holds the sheet.
    """
    scan = SheetScan(0, {})
    text = CellText(part_size, limits)
    tail = b""
    edge = b""  # the end of the previous chunk: a reference cut in two is found whole
    while chunk := source.read(_INFLATE_CHUNK):
        scan.rows += _row_tags(chunk)  # a tag cut by the chunk edge is missed: fine for a bound
        _note_references(edge + chunk, scan)
        edge = chunk[-64:]
        check_extent(scan.height, scan.last_column, limits)
        text.add(chunk)
        cells = tail + chunk
        # Only complete cells now; the rest waits for the next chunk ("</x:c>" when prefixed).
        end = max(cells.rfind(b"</c>") + 4, cells.rfind(b":c>") + 3, 0)
        end = end if end > 3 else 0
        _valueless_formulas(cells, end, scan.formulas)
        _error_cells(cells, end, scan.errors)
        tail = cells[end:] if len(cells) - end < _INFLATE_CHUNK else b""
    return scan


# ---------------------------------------------------------------- the ODS content scan

_ODS_TABLE: Final = "urn:oasis:names:tc:opendocument:xmlns:table:1.0 "
_ODS_OFFICE: Final = "urn:oasis:names:tc:opendocument:xmlns:office:1.0 "
# LibreOffice marks a formula that failed (#DIV/0!, #N/A) here; calamine reads its office:value (0).
_ODS_ERROR_TYPE: Final = "urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0 value-type"
_ODS_CELLS: Final = (f"{_ODS_TABLE}table-cell", f"{_ODS_TABLE}covered-table-cell")
# Formula positions kept per table; a real sheet has none without a value (LibreOffice writes them all).
_MAX_FORMULA_CELLS: Final = 10_000


class _OdsScan:
    """Walk content.xml with expat (no tree) as calamine will lay it out, bounding every table.

    calamine parses every table of an ODS when the file is opened, and expands number-rows-repeated
    and number-columns-repeated into real cells: one 1 KB row repeated a million times is a million
    rows in memory. Repeats of empty cells (LibreOffice pads every sheet with them) do not count; a
    table's extent ends at its last cell that holds something.
    """

    def __init__(self, limits: ReadLimits) -> None:
        self.limits = limits
        self.formulas: dict[str, dict[int, set[int]]] = {}  # {table: {row: {columns}}}
        self._formula_cells = 0
        # {table: {first row: [(column, last row)]}}: cells spanning rows, which calamine does not
        # report for an ODS (it does for XLSX and .xls), so they are filled down the same way.
        self.merges: dict[str, dict[int, list[tuple[int, int]]]] = {}
        self._merge_count = 0
        self.errors: dict[str, dict[int, dict[int, str]]] = {}  # {table: {row: {column: "#N/A"}}}
        self._row_errors: list[tuple[int, str]] = []
        self._error_text: list[str] | None = None  # the text of the error cell being read
        self.parser: Any = None  # set by scan_ods_content: error cells switch its text handler on
        self._cells_before = 0  # the grids of the tables already closed
        self._table: str | None = None
        self._depth = 0  # tables nested in a cell are part of that cell, not of the sheet
        self._rows = self._columns = 0  # the current table's extent
        self._row = 0  # rows of the current table before the current row
        self._row_repeat = 1
        self._row_end = 0  # the column after the last cell of the current row that holds something
        self._row_formulas: list[int] = []
        self._column = 0
        self._cell_repeat = 1
        self._cell_filled = False
        self._cell_formula = False
        self._in_cell = False

    @staticmethod
    def _repeat(attrs: dict[str, str], name: str) -> int:
        try:
            return max(1, int(attrs.get(f"{_ODS_TABLE}{name}", "1")))
        except ValueError:
            return 1

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        if self._in_cell:
            self._cell_filled = True  # <text:p> and the like: the cell shows something
            if tag == f"{_ODS_TABLE}table":
                self._depth += 1
            return
        if tag == f"{_ODS_TABLE}table":
            self._table = attrs.get(f"{_ODS_TABLE}name", "")
            self._rows = self._columns = self._row = 0
        elif tag == f"{_ODS_TABLE}table-row":
            self._row_repeat = self._repeat(attrs, "number-rows-repeated")
            self._row_end = self._column = 0
            self._row_formulas = []
            self._row_errors = []
        elif tag in _ODS_CELLS:
            self._in_cell = True
            self._cell_repeat = self._repeat(attrs, "number-columns-repeated")
            has_type = f"{_ODS_OFFICE}value-type" in attrs
            self._cell_formula = f"{_ODS_TABLE}formula" in attrs and not has_type
            self._cell_filled = has_type or self._cell_formula
            if attrs.get(_ODS_ERROR_TYPE) == "error" and self.parser is not None:
                self._error_text = []
                self.parser.CharacterDataHandler = self._error_text.append
            spanned = self._repeat(attrs, "number-rows-spanned")
            if spanned > 1 and self._table is not None and self._merge_count < self.limits.max_merged_ranges:
                self._merge_count += 1
                first = self._row + 1
                found = self.merges.setdefault(self._table, {}).setdefault(first, [])
                found.append((self._column + 1, first + spanned - 1))

    def end(self, tag: str) -> None:
        if self._in_cell:
            if tag == f"{_ODS_TABLE}table" and self._depth:
                self._depth -= 1
            elif tag in _ODS_CELLS and not self._depth:
                self._end_cell()
            return
        if tag == f"{_ODS_TABLE}table-row":
            self._end_row()
        elif tag == f"{_ODS_TABLE}table":
            self._cells_before += self._rows * self._columns
            self._table = None

    def _end_cell(self) -> None:
        self._in_cell = False
        if self._error_text is not None:
            text = "".join(self._error_text).strip()[:_MAX_ERROR_CHARS] or "#ERROR"
            self._error_text = None
            self.parser.CharacterDataHandler = None
            first = self._column + 1
            self._row_errors.extend((c, text) for c in range(first, first + min(self._cell_repeat, 1_000)))
        if self._cell_filled:
            self._row_end = self._column + self._cell_repeat
        if self._cell_formula:
            first = self._column + 1
            self._row_formulas.extend(range(first, first + min(self._cell_repeat, _MAX_FORMULA_CELLS)))
        self._column += self._cell_repeat

    def _end_row(self) -> None:
        if self._row_end:
            self._rows = self._row + self._row_repeat
            self._columns = max(self._columns, self._row_end)
            check_extent(self._rows, self._columns, self.limits)
            budget = self.limits.max_sheet_cells - self._cells_before
            if self._rows * self._columns > budget:  # all tables are in memory at once
                raise too_large(self._rows, self._columns, budget)
        if self._row_formulas and self._table is not None:
            found = self.formulas.setdefault(self._table, {})
            for row in range(self._row + 1, self._row + 1 + self._row_repeat):
                if self._formula_cells >= _MAX_FORMULA_CELLS:
                    break
                found.setdefault(row, set()).update(self._row_formulas)
                self._formula_cells += len(self._row_formulas)
        if self._row_errors and self._table is not None:
            table = self.errors.setdefault(self._table, {})
            for row in range(self._row + 1, self._row + 1 + min(self._row_repeat, _MAX_FORMULA_CELLS)):
                if self._formula_cells >= _MAX_FORMULA_CELLS:
                    break
                table.setdefault(row, {}).update(self._row_errors)
                self._formula_cells += len(self._row_errors)
        self._row += self._row_repeat


def _refuse_dtd(*_args: object) -> None:
    raise _unsafe()


def scan_ods_content(source: IO[bytes], limits: ReadLimits, part_size: int = 0) -> _OdsScan:
    """Bound every table of an ODS before calamine expands it; the scan holds each table's formulas
    without a computed value (calamine reads them as blank) and its cells that span rows."""
    scan = _OdsScan(limits)
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartElementHandler = scan.start
    parser.EndElementHandler = scan.end
    scan.parser = parser
    # Entities are refused in the head already; a DTD anywhere else is refused here too.
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_dtd
    text = CellText(part_size, limits)  # every table's text is in memory once calamine opens the file
    try:
        while chunk := source.read(_INFLATE_CHUNK):
            text.add(chunk)
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except expat.ExpatError as exc:
        raise corrupt("ods") from exc
    return scan


# ---------------------------------------------------------------- merged cells


class MergeFiller:
    """Fill vertically merged cells downwards, as a person reading the sheet would."""

    def __init__(self, merges: dict[int, list[tuple[int, int]]]) -> None:
        self._merges = merges
        self._active: list[tuple[int, int, str]] = []  # (column, max_row, value)

    def fill(self, row_number: int, cells: list[str]) -> list[str]:
        """Return the row with merged cells filled from their top-left cell."""
        if not self._active and not self._merges:
            return cells
        self._active = [item for item in self._active if item[1] >= row_number]
        for column, _last, value in self._active:
            while len(cells) < column:
                cells.append("")
            if not cells[column - 1].strip():
                cells[column - 1] = value
        for column, last in self._merges.pop(row_number, ()):
            value = cells[column - 1] if column <= len(cells) else ""
            if value.strip():
                self._active.append((column, last, value))
        return cells


def _vertical_merges(sheet: python_calamine.CalamineSheet, limit: int) -> dict[int, list[tuple[int, int]]]:
    """{first row: [(column, last row)]}, 1-based, for merges spanning rows (at most `limit`)."""
    merges: dict[int, list[tuple[int, int]]] = {}
    for (first_row, first_col), (last_row, _last_col) in (sheet.merged_cell_ranges or [])[:limit]:
        if last_row > first_row:
            merges.setdefault(first_row + 1, []).append((first_col + 1, last_row + 1))
    return merges


# ---------------------------------------------------------------- the workbook


@dataclass(slots=True)
class OpenSheet:
    """A chosen worksheet, converted: its title, its rows as text (spooled), formulas without a value."""

    title: str
    format: FileFormat
    spool: RowSpool
    formulas: dict[int, set[int]]
    errors: dict[int, dict[int, str]] = dataclasses.field(default_factory=dict)  # XLSX error cells
    others: tuple[str, ...] = ()  # the workbook's other visible worksheets, when none was named

    def rows(self) -> Iterator[RowCells]:
        """The sheet's rows from the start, merged cells already filled down."""
        return iter(self.spool)

    def close(self) -> None:
        """Delete the spooled rows."""
        self.spool.close()


def open_sheet(stream: IO[bytes], fmt: FileFormat, sheet_name: str | None, limits: ReadLimits) -> OpenSheet:
    """Check the file, choose the sheet (by name, else the first visible one with data) and convert it.

    The sheet's rows are spooled to a temporary file and the workbook is closed before this returns,
    so calamine's copy of the sheet is gone before the import's own working set grows.
    """
    formulas: dict[int, set[int]] = {}
    errors: dict[int, dict[int, str]] = {}
    ods_scan: _OdsScan | None = None
    merges: dict[int, list[tuple[int, int]]] | None = None  # None: calamine's own merged ranges
    archive = check_archive(stream, fmt, limits) if fmt in ("xlsx", "ods") else None
    if fmt == "xls":
        _check_xls(stream, limits)
    try:
        if archive is not None and fmt == "ods":
            # calamine expands every table when it opens an ODS: bound them all before that.
            with archive.open("content.xml") as source:
                ods_scan = scan_ods_content(source, limits, archive.getinfo("content.xml").file_size)
        stream.seek(0)
        try:
            workbook = python_calamine.CalamineWorkbook.from_filelike(stream)  # type: ignore[arg-type]
        except Exception as exc:  # calamine raises its own errors (zip, XML, password) on bad input
            if isinstance(exc, python_calamine.PasswordError) or _is_encrypted(stream, fmt):
                raise encrypted() from exc
            raise corrupt(fmt) from exc
    except BaseException:
        if archive is not None:
            archive.close()
        raise
    try:
        titles = _candidate_sheets(workbook, sheet_name)
        for index, title in enumerate(titles):
            if archive is not None and fmt == "xlsx":
                part = _xlsx_sheet_part(archive, title)
                if part is None or part not in archive.namelist():
                    raise corrupt(fmt)
                with archive.open(part) as source:
                    scan = scan_sheet_xml(source, limits, archive.getinfo(part).file_size)
                formulas, errors = scan.formulas, scan.errors
            elif ods_scan is not None:
                formulas, merges = ods_scan.formulas.get(title, {}), ods_scan.merges.get(title, {})
                errors = ods_scan.errors.get(title, {})
            try:
                sheet = workbook.get_sheet_by_name(title)
            except Exception as exc:
                raise (
                    encrypted() if isinstance(exc, python_calamine.PasswordError) else corrupt(fmt)
                ) from exc
            if sheet.start is None and index + 1 < len(titles):
                continue  # an empty sheet (a blank "Sheet1" left in front of the roster): try the next
            break
        if archive is not None:
            archive.close()
            archive = None
        # What calamine now holds, against the same bounds (the scans above bound it before loading).
        check_extent(sheet.total_height, sheet.total_width, limits)
        if merges is None:
            merges = _vertical_merges(sheet, limits.max_merged_ranges)
        spool = _spool_rows(sheet, fmt, errors, merges)
        del sheet  # calamine's copy of the sheet goes now, not when this frame ends
    finally:
        if archive is not None:
            archive.close()
        workbook.close()
    others = tuple(t for t in titles if t != title) if sheet_name is None else ()
    return OpenSheet(title, fmt, spool, formulas, errors, others)


def _check_xls(stream: IO[bytes], limits: ReadLimits) -> None:
    """Refuse an .xls whose sheets calamine could not hold within the cell budget, before it opens it.

    calamine allocates every worksheet's grid at open and copies the chosen one when it is read, so
    the sheets together get half the budget a single XLSX sheet has (which is loaded once).
    """
    try:
        grids = xls.worksheet_grids(stream)
    except xls.XlsEncrypted as exc:
        raise encrypted() from exc
    except xls.XlsUnreadable as exc:
        # Not a BIFF workbook (an encrypted .xlsx is OLE2 too): nothing of it can be loaded as a sheet.
        raise (encrypted() if _is_encrypted(stream, "xls") else corrupt("xls")) from exc
    budget = limits.max_sheet_cells // 2
    for grid in grids:  # as for an ODS: what the sheets before it took is not left for this one
        if grid.cells > budget:
            raise too_large(grid.rows, grid.columns, budget)
        budget -= grid.cells


def _candidate_sheets(workbook: python_calamine.CalamineWorkbook, sheet_name: str | None) -> list[str]:
    """The named sheet's title, else the visible worksheets in order (the first with data is read).

    A missing named sheet, or a workbook without a visible worksheet, is an error naming the sheets.
    """
    metadata = workbook.sheets_metadata
    if sheet_name is not None:
        titles = [m.name for m in metadata if m.name.strip() == sheet_name.strip()][:1]
    else:
        visible = python_calamine.SheetVisibleEnum.Visible
        worksheet = python_calamine.SheetTypeEnum.WorkSheet
        titles = [m.name for m in metadata if m.visible == visible and m.typ == worksheet]
    if not titles:
        listed = "、".join(m.name for m in metadata)
        raise RosterFileError(
            "sheet_not_found",
            f"找不到工作表“{sheet_name or ''}”。现有工作表：{listed}。",
            f'Worksheet "{sheet_name or ""}" not found. Sheets: {listed}.',
        )
    return titles


def _spool_rows(
    sheet: python_calamine.CalamineSheet,
    fmt: str,
    errors: dict[int, dict[int, str]],
    merges: dict[int, list[tuple[int, int]]],
) -> RowSpool:
    """The sheet's rows as text cells with spreadsheet row numbers, merged cells filled down, spooled.

    An error cell, blank to calamine, gets its error text back ("#N/A"), as the sheet shows it.
    """
    filler = MergeFiller(merges)
    first_row, first_col = sheet.start or (0, 0)
    pad = [""] * first_col  # calamine's rows start at the first used column
    spool = RowSpool()
    try:
        try:
            for offset, values in enumerate(sheet.iter_rows()):
                row_number = first_row + offset + 1
                cells = [*pad, *map(cell_text, values)] if pad else [cell_text(v) for v in values]
                for column, text in errors.get(row_number, {}).items():
                    cells.extend([""] * (column - len(cells)))
                    cells[column - 1] = text
                spool.append(row_number, filler.fill(row_number, cells))
            spool.finish()
        except RosterFileError:
            raise
        except Exception as exc:  # damaged cell data surfacing while rows are read
            raise corrupt(fmt) from exc
    except BaseException:
        spool.close()
        raise
    return spool
