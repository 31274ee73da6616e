"""Stream a roster file (CSV or XLSX) as (row_number, {field: raw text}) pairs.

Rows are produced one at a time; nothing holds the whole file. Row numbers are the spreadsheet's own
1-based numbers (the header is normally row 1), so people can find a reported row in Excel.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, BinaryIO, Final, NamedTuple

from defusedxml import DefusedXmlException
from openpyxl import load_workbook
from openpyxl.utils.cell import column_index_from_string
from openpyxl.worksheet._read_only import ReadOnlyWorksheet

from app.imports.read.decoding import (
    MAX_LINE_CHARS,
    DecodedLines,
    FileFormat,
    RosterFileError,
    choose_delimiter,
    detect_format,
    read_head,
)
from app.imports.read.headers import HeaderMap, looks_like_title, map_headers

RowCells = tuple[int, list[str]]


@dataclass(frozen=True, slots=True)
class ReadLimits:
    """Bounds that keep a hostile or broken file from exhausting time or memory."""

    max_columns: int = 1_000
    max_line_chars: int = MAX_LINE_CHARS
    max_xlsx_uncompressed_bytes: int = 512 * 1024 * 1024
    max_merged_ranges: int = 100_000
    header_search_rows: int = 5  # title banners allowed above the header


class RawRow(NamedTuple):
    """One data row: its spreadsheet row number and the raw text of each mapped field."""

    row_number: int
    cells: dict[str, str]
    # Fields whose cell holds a formula without a computed value (XLSX written by a program, not Excel).
    formula_fields: frozenset[str] = frozenset()


_CORRUPT_ZH: Final = "Excel 文件已损坏或不完整，无法读取。请在 Excel 中重新保存后上传。"
_CORRUPT_EN: Final = "The Excel file is damaged or incomplete. Re-save it in Excel and upload again."


def _corrupt() -> RosterFileError:
    """The error for a zip/XML we cannot read."""
    return RosterFileError("xlsx_corrupt", _CORRUPT_ZH, _CORRUPT_EN)


def _too_many_columns(row_number: int, count: int, limit: int) -> RosterFileError:
    """Whole-file error: a row wider than any real roster."""
    return RosterFileError(
        "too_many_columns",
        f"第 {row_number} 行有 {count} 列，超过上限 {limit} 列。",
        f"Row {row_number} has {count} columns, more than the limit of {limit}.",
    )


def _trim_trailing(cells: list[str]) -> list[str]:
    """Drop trailing empty cells (Excel pads rows to the used range)."""
    end = len(cells)
    while end and not cells[end - 1].strip():
        end -= 1
    return cells[:end]


# ---------------------------------------------------------------- CSV


def _csv_rows(lines: DecodedLines, limits: ReadLimits) -> Iterator[RowCells]:
    """Parse decoded lines with the csv module; one record is one spreadsheet row."""
    # The limit is process-wide in the csv module; we only ever raise it, to our line cap, so that
    # cells between the per-cell limit and this cap become row errors instead of aborting the file.
    if csv.field_size_limit() < limits.max_line_chars:
        csv.field_size_limit(limits.max_line_chars)
    line_iter = iter(lines)
    first = next(line_iter, None)
    if first is None:
        return
    reader = csv.reader(_prepend(first, line_iter), delimiter=choose_delimiter(first))
    row_number = 0
    try:
        for row_number, cells in enumerate(reader, start=1):
            yield row_number, cells
    except csv.Error as exc:
        raise RosterFileError(
            "csv_malformed",
            f"CSV 第 {row_number + 1} 行格式错误（{exc}），文件无法读取。",
            f"CSV row {row_number + 1} is malformed ({exc}); the file cannot be read.",
        ) from exc


def _prepend(first: str, rest: Iterator[str]) -> Iterator[str]:
    """Put back the line we peeked at to choose the delimiter."""
    yield first
    yield from rest


# ---------------------------------------------------------------- XLSX

# <mergeCell ref="A2:A5"/>; '<' inside cell text is always escaped, so this only matches markup.
_MERGE_RE: Final = re.compile(rb"<(?:\w+:)?mergeCell\s[^>]*?ref=\"([A-Z]+)(\d+):([A-Z]+)(\d+)\"")


def _cell_text(value: object) -> str:
    """Excel cell value as the text a person sees (integral floats without ".0")."""
    if value is None:
        return ""
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


# <c r="B5" ...>...<f>SUM(A1:A4)</f>...</c>: a cell with a formula; `<v>` holds its cached value.
_FORMULA_RE: Final = re.compile(rb"<(?:\w+:)?f[\s>/]")
_CELL_REF_RE: Final = re.compile(rb"\sr=\"([A-Z]+)(\d+)\"")
_CELL_END_RE: Final = re.compile(rb"</(?:\w+:)?c>")
# A cached value is a non-empty <v> (programs write an empty <v/> next to a formula) or an inline string.
_VALUE_RE: Final = re.compile(rb"<(?:\w+:)?v(?:\s[^>]*)?>[^<]|<(?:\w+:)?is[\s>]")


@dataclass(slots=True)
class SheetScan:
    """What the sheet XML says beyond cell values: vertical merges, formulas without a value."""

    merges: dict[int, list[tuple[int, int]]]  # {min_row: [(column, max_row)]}
    formulas: dict[int, set[int]]  # {row: {1-based columns whose formula has no cached value}}


def _valueless_formulas(data: bytes, end: int, found: dict[int, set[int]]) -> None:
    """Record formula cells without a cached value among the complete cells of data[:end]."""
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
            column = column_index_from_string(ref.group(1).decode())
            found.setdefault(int(ref.group(2)), set()).add(column)


def scan_sheet_xml(source: IO[bytes], limits: ReadLimits) -> SheetScan:
    """One streamed byte scan of a worksheet part: merged ranges and formulas without a value.

    Readers of cell values do not expose either (and <mergeCells> follows the cell data), so a cheap
    scan runs before the row pass; formulas are rare, so only the bytes around a <f> tag are parsed.
    """
    scan = SheetScan({}, {})
    count = 0
    merge_tail = cell_tail = b""
    while chunk := source.read(1 << 20):
        data = merge_tail + chunk
        last_end = 0
        for match in _MERGE_RE.finditer(data):
            last_end = match.end()
            first_row, last_row = int(match.group(2)), int(match.group(4))
            if last_row > first_row and count < limits.max_merged_ranges:
                # Beyond the limit, further merges are left unfilled.
                column = column_index_from_string(match.group(1).decode())
                scan.merges.setdefault(first_row, []).append((column, last_row))
                count += 1
        merge_tail = data[max(last_end, len(data) - 256) :]  # a tag may straddle two chunks
        cells = cell_tail + chunk
        # Only complete cells now; the rest waits for the next chunk ("</x:c>" when prefixed).
        end = max(cells.rfind(b"</c>") + 4, cells.rfind(b":c>") + 3, 0)
        end = end if end > 3 else 0
        _valueless_formulas(cells, end, scan.formulas)
        cell_tail = cells[end:] if len(cells) - end < 1 << 20 else b""
    return scan


class _MergeFiller:
    """Fill vertically merged cells downwards, as a person reading the sheet would."""

    def __init__(self, merges: dict[int, list[tuple[int, int]]]) -> None:
        self._merges = merges
        self._active: list[tuple[int, int, str]] = []  # (column, max_row, value)

    def fill(self, row_number: int, cells: list[str]) -> list[str]:
        """Return the row with merged cells filled from their top-left cell."""
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


def _check_zip(stream: IO[bytes], limits: ReadLimits) -> None:
    """Refuse non-workbook zips and zip bombs before openpyxl inflates anything."""
    try:
        with zipfile.ZipFile(stream) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise _corrupt() from exc
    names = {info.filename for info in infos}
    if "[Content_Types].xml" not in names or not any(n.startswith("xl/") for n in names):
        raise RosterFileError(
            "not_a_roster",
            "上传的压缩文件不是 Excel 工作簿 (.xlsx)。",
            "The uploaded zip file is not an Excel workbook (.xlsx).",
        )
    # zipfile stops at the declared size (and checks the CRC), so the declared sizes bound the work.
    if sum(info.file_size for info in infos) > limits.max_xlsx_uncompressed_bytes:
        raise RosterFileError(
            "file_too_large",
            "Excel 文件解压后过大，请拆分后上传。",
            "The Excel file is too large once uncompressed; split it and upload the parts.",
        )
    stream.seek(0)


class RosterReader:
    """An open roster file; iterate it for RawRow items after the header row."""

    def __init__(
        self,
        stream: IO[bytes],
        *,
        filename: str | None,
        content_type: str | None,
        sheet_name: str | None,
        limits: ReadLimits,
        owned: list[IO[bytes]],
    ) -> None:
        self.limits = limits
        self._owned = owned
        self._workbook: object | None = None
        self.formula_cells: dict[int, set[int]] = {}  # filled by the XLSX sheet scan
        self.sheet_title: str | None = None
        self.blank_rows_skipped = 0
        self.rows_read = 0
        head = read_head(stream)
        self.format: FileFormat = detect_format(head, filename=filename, content_type=content_type)
        try:
            if self.format == "csv":
                lines = DecodedLines(stream, head=head, max_line_chars=limits.max_line_chars)
                self._lines: DecodedLines | None = lines
                physical = _csv_rows(lines, limits)
            else:
                self._lines = None
                physical = self._xlsx_rows(self._seekable(stream, head), sheet_name)
            self._physical = self._guarded(physical)
            self.header_row, self.header = self._find_header()
        except BaseException:
            self.close()
            raise

    def _seekable(self, stream: IO[bytes], head: bytes) -> IO[bytes]:
        """Zip needs random access: rewind, or spool a one-way stream to a temporary file."""
        if stream.seekable():
            stream.seek(stream.tell() - len(head))
            return stream
        spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)  # noqa: SIM115
        self._owned.append(spool)
        spool.write(head)
        shutil.copyfileobj(stream, spool)
        spool.seek(0)
        return spool

    def _xlsx_rows(self, stream: IO[bytes], sheet_name: str | None) -> Iterator[RowCells]:
        """Rows of the chosen sheet as text cells, merged cells filled down."""
        _check_zip(stream, self.limits)
        try:
            workbook = load_workbook(stream, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises anything from KeyError to ParseError on bad input
            raise _classify_xlsx_error(exc) from exc
        self._workbook = workbook
        sheets = [ws for ws in workbook.worksheets if isinstance(ws, ReadOnlyWorksheet)]
        if sheet_name is not None:
            chosen = next((ws for ws in sheets if ws.title.strip() == sheet_name.strip()), None)
        else:
            chosen = next((ws for ws in sheets if ws.sheet_state == "visible"), None)
        if chosen is None:
            titles = "、".join(ws.title for ws in sheets)
            raise RosterFileError(
                "sheet_not_found",
                f"找不到工作表“{sheet_name or ''}”。现有工作表：{titles}。",
                f'Worksheet "{sheet_name or ""}" not found. Sheets: {titles}.',
            )
        self.sheet_title = chosen.title
        chosen.reset_dimensions()  # some writers record a wrong <dimension>; read what is there
        return self._sheet_rows(chosen)

    def _sheet_rows(self, ws: ReadOnlyWorksheet) -> Iterator[RowCells]:
        """Generator over one sheet; errors surface while iterating."""
        # _get_source is private, but it is the only way to reach the sheet part in read-only mode;
        # tests/imports cover merged cells and formulas, so an openpyxl change is noticed.
        with ws._get_source() as source:
            scan = scan_sheet_xml(source, self.limits)
        self.formula_cells = scan.formulas
        filler = _MergeFiller(scan.merges)
        for row_number, values in enumerate(ws.iter_rows(values_only=True), start=1):
            if len(values) > self.limits.max_columns and any(
                v is not None for v in values[self.limits.max_columns :]
            ):
                raise _too_many_columns(row_number, len(values), self.limits.max_columns)
            yield row_number, filler.fill(row_number, [_cell_text(v) for v in values])

    def _guarded(self, physical: Iterator[RowCells]) -> Iterator[RowCells]:
        """Turn parser failures mid-file into RosterFileError and enforce the column limit."""
        try:
            for row_number, cells in physical:
                cells = _trim_trailing(cells)
                if len(cells) > self.limits.max_columns:
                    raise _too_many_columns(row_number, len(cells), self.limits.max_columns)
                yield row_number, cells
        except RosterFileError:
            raise
        except Exception as exc:  # truncated deflate streams, CRC errors, XML errors from openpyxl
            if self.format == "csv":
                raise  # a CSV read failure is the upload's I/O, not the file's content
            raise _classify_xlsx_error(exc) from exc

    def _find_header(self) -> tuple[int, HeaderMap]:
        """The first non-blank row, after at most a few one-cell title banners, is the header."""
        banners = 0
        for row_number, cells in self._physical:
            if not cells:
                continue
            if looks_like_title(cells) and banners < self.limits.header_search_rows:
                banners += 1
                continue
            return row_number, map_headers(cells)
        raise RosterFileError(
            "file_empty", "文件中没有表头和数据。", "The file has no header row and no data."
        )

    def __iter__(self) -> Iterator[RawRow]:
        """Data rows; blank rows in the middle are skipped and counted, trailing ones ignored."""
        pending_blank = 0
        columns = self.header.columns
        for row_number, cells in self._physical:
            mapped = self.header.apply(cells)
            formulas = self.formula_cells.get(row_number)
            fields = (
                frozenset(columns[c - 1] for c in formulas if c - 1 in columns) if formulas else frozenset()
            )
            if not fields and not any(value.strip() for value in mapped.values()):
                # A pre-numbered 序号 column alone does not make a row; only template fields count.
                pending_blank += 1
                continue
            self.blank_rows_skipped += pending_blank
            pending_blank = 0
            self.rows_read += 1
            yield RawRow(row_number, mapped, fields)

    @property
    def unknown_columns(self) -> tuple[str, ...]:
        """Header cells that match no template column (reported, then ignored)."""
        return self.header.unknown_columns

    def close(self) -> None:
        """Release the workbook archive and any file we opened."""
        close = getattr(self._workbook, "close", None)
        if close is not None:
            close()
        for handle in self._owned:
            handle.close()

    def __enter__(self) -> RosterReader:
        """Use as a context manager so files are closed even when a row raises."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close on leaving the with-block."""
        self.close()


def _classify_xlsx_error(exc: Exception) -> RosterFileError:
    """Unsafe XML (entity tricks) gets its own code; everything else is a damaged file."""
    # openpyxl re-raises parser errors as ValueError, so look down the chain of causes.
    chain: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and len(chain) < 10:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    if any(isinstance(item, DefusedXmlException) for item in chain):
        return RosterFileError(
            "xlsx_unsafe",
            "Excel 文件包含不安全的 XML 内容（实体声明），已拒绝。请在 Excel 中重新保存后上传。",
            "The Excel file contains unsafe XML (entity declarations) and was refused. Re-save it in Excel.",
        )
    if isinstance(exc, MemoryError):
        return RosterFileError("file_too_large", "文件过大，无法读取。", "The file is too large to read.")
    return _corrupt()


def open_roster(
    source: BinaryIO | IO[bytes] | str | os.PathLike[str],
    *,
    filename: str | None = None,
    content_type: str | None = None,
    sheet_name: str | None = None,
    limits: ReadLimits | None = None,
) -> RosterReader:
    """Open a roster, detect its format and map its header; file-level problems raise RosterFileError."""
    owned: list[IO[bytes]] = []
    if isinstance(source, str | os.PathLike):
        stream: IO[bytes] = open(source, "rb")  # noqa: SIM115 - closed by RosterReader.close
        owned.append(stream)
        filename = filename or os.fspath(source)
    else:
        stream = source
    try:
        return RosterReader(
            stream,
            filename=filename,
            content_type=content_type,
            sheet_name=sheet_name,
            limits=limits or ReadLimits(),
            owned=owned,
        )
    except BaseException:
        for handle in owned:
            handle.close()
        raise


__all__ = ["RawRow", "ReadLimits", "RosterReader", "open_roster"]
