"""Read a roster file (CSV, XLSX, .xls or .ods) as (row_number, {field: raw text}) pairs.

Rows are produced one at a time. A CSV is decoded as a stream, so nothing holds the whole file; a
workbook sheet is parsed by calamine in one go, after the checks in workbook.py bound its size and
rows, and spooled to a temporary file that RosterSource reuses for each pass of an import. Row
numbers are the spreadsheet's own 1-based numbers (the header is normally row 1), so people can find
a reported row in Excel.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import IO, BinaryIO, Final, NamedTuple

from app.cells import restore
from app.imports.read.decoding import (
    DELIMITER_SAMPLE_LINES,
    DecodedLines,
    FileFormat,
    RosterFileError,
    choose_delimiter,
    detect_format,
    read_head,
)
from app.imports.read.headers import HeaderMap, looks_like_title, map_headers
from app.imports.read.limits import ReadLimits
from app.imports.read.workbook import OpenSheet, corrupt, open_sheet

RowCells = tuple[int, list[str]]


class RawRow(NamedTuple):
    """One data row: its spreadsheet row number and the raw text of each mapped field."""

    row_number: int
    cells: dict[str, str]
    # Fields whose cell holds a formula without a computed value (XLSX written by a program, not Excel).
    formula_fields: frozenset[str] = frozenset()
    # Fields whose cell shows an error value (#N/A, #DIV/0!): the cell holds that text.
    error_fields: frozenset[str] = frozenset()


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


# Read after the file's last line. It cannot be roster text (DecodedLines refuses NUL), so the parser
# meets it either as a record of its own (every quote was closed) or inside the cell of a quote opened
# and never closed, which had swallowed every line after it into that one cell.
_END_OF_FILE: Final = "\x00"


def _csv_rows(lines: DecodedLines, limits: ReadLimits) -> Iterator[RowCells]:
    """Parse decoded lines with the csv module; one record is one spreadsheet row."""
    # The limit is process-wide in the csv module; we only ever raise it, to our line cap, so that
    # cells between the per-cell limit and this cap become row errors instead of aborting the file.
    if csv.field_size_limit() < limits.max_line_chars:
        csv.field_size_limit(limits.max_line_chars)
    line_iter = iter(lines)
    peeked = list(itertools.islice(line_iter, DELIMITER_SAMPLE_LINES))
    if not peeked:
        return
    reader = csv.reader(_closed(peeked, line_iter), delimiter=choose_delimiter(peeked))
    row_number, first_line = 0, 1
    try:
        for row_number, cells in enumerate(reader, start=1):
            if cells == [_END_OF_FILE]:
                return
            if cells and _END_OF_FILE in cells[-1]:
                raise _unclosed_quote(row_number, first_line)
            yield row_number, cells
            first_line = reader.line_num + 1
    except csv.Error as exc:
        raise RosterFileError(
            "csv_malformed",
            f"CSV 第 {row_number + 1} 行格式错误（{exc}），文件无法读取。",
            f"CSV row {row_number + 1} is malformed ({exc}); the file cannot be read.",
        ) from exc


def _unclosed_quote(row_number: int, line: int) -> RosterFileError:
    """Whole-file error: a cell's opening quote is never closed, so the rest of the file was one cell."""
    return RosterFileError(
        "csv_unclosed_quote",
        f'CSV 第 {row_number} 行（文件第 {line} 行起）有一个双引号（"）没有配对，之后的所有内容都会被读成'
        "同一个单元格，文件无法导入。请检查该行的引号后重新上传。",
        f'CSV row {row_number} (from line {line} of the file) opens a double quote (") that is never '
        "closed, so everything after it would be read as one cell; the file cannot be imported. Check the "
        "quotes on that row and upload it again.",
    )


def _closed(peeked: list[str], rest: Iterator[str]) -> Iterator[str]:
    """The lines peeked at to choose the delimiter, the others, then the end-of-file mark on its own line."""
    last = peeked[-1]
    yield from peeked
    for last in rest:
        yield last
    if not last.endswith(("\n", "\r")):
        yield "\n"  # ends the last record, exactly as the end of the file would
    yield _END_OF_FILE + "\n"


class RosterReader:
    """An open roster file; iterate it for RawRow items after the header row."""

    def __init__(
        self,
        stream: IO[bytes] | None,
        *,
        filename: str | None,
        content_type: str | None,
        sheet_name: str | None,
        limits: ReadLimits,
        owned: list[IO[bytes] | OpenSheet],
        sheet: OpenSheet | None = None,
    ) -> None:
        """Read a stream (detecting its format), or the rows of a workbook sheet converted earlier."""
        self.limits = limits
        self._owned = owned
        self.sheet: OpenSheet | None = sheet
        self.blank_rows_skipped = 0
        self.rows_read = 0
        try:
            if sheet is not None:
                self.format: FileFormat = sheet.format
                physical = sheet.rows()
            else:
                assert stream is not None
                head = read_head(stream)
                self.format = detect_format(head, filename=filename, content_type=content_type)
                if self.format == "csv":
                    lines = DecodedLines(stream, head=head, max_line_chars=limits.max_line_chars)
                    physical = _csv_rows(lines, limits)
                else:
                    self.sheet = open_sheet(self._seekable(stream, head), self.format, sheet_name, limits)
                    owned.append(self.sheet)
                    physical = self.sheet.rows()
            self._physical = self._guarded(physical)
            self.header_row, self.header = self._find_header()
        except BaseException:
            self.close()
            raise

    @property
    def sheet_title(self) -> str | None:
        """The worksheet read (None for a CSV)."""
        return self.sheet.title if self.sheet is not None else None

    @property
    def formula_cells(self) -> dict[int, set[int]]:
        """{row: {1-based columns}} of formula cells without a cached value (XLSX only)."""
        return self.sheet.formulas if self.sheet is not None else {}

    @property
    def error_cells(self) -> dict[int, dict[int, str]]:
        """{row: {1-based column: text}} of cells holding an error value (XLSX and ODS)."""
        return self.sheet.errors if self.sheet is not None else {}

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
        except Exception as exc:  # damaged workbook data surfacing while rows are read
            if self.format == "csv":
                raise  # a CSV read failure is the upload's I/O, not the file's content
            raise corrupt(self.format) from exc

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
        if self.sheet is not None:
            # A workbook whose first sheet is the instructions (填表说明): say which sheet was read and
            # which others there are, so the office can name the roster's sheet.
            title, others = self.sheet.title, self.sheet.others
            zh = f"工作表“{title}”中没有表头和数据。"
            en = f'The worksheet "{title}" has no header row and no data.'
            if others:
                zh += f"工作簿中还有：{'、'.join(others)}。"
                zh += "请在上传时填写名单所在的工作表，或把名单移到第一个工作表。"
                en += f" The workbook also has: {', '.join(others)}. Name the roster's sheet when uploading."
            raise RosterFileError("file_empty", zh, en)
        raise RosterFileError(
            "file_empty", "文件中没有表头和数据。", "The file has no header row and no data."
        )

    def __iter__(self) -> Iterator[RawRow]:
        """Data rows; blank rows in the middle are skipped and counted, trailing ones ignored."""
        pending_blank = 0
        columns = self.header.columns
        formula_cells = self.formula_cells
        error_cells = self.error_cells
        for row_number, cells in self._physical:
            mapped = self.header.apply(cells)
            if any(value.startswith("'") for value in mapped.values()):
                mapped = {name: restore(value) for name, value in mapped.items()}
            formulas = formula_cells.get(row_number)
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
            errors = error_cells.get(row_number)
            error_fields = (
                frozenset(columns[c - 1] for c in errors if c - 1 in columns) if errors else frozenset()
            )
            yield RawRow(row_number, mapped, fields, error_fields)

    @property
    def unknown_columns(self) -> tuple[str, ...]:
        """Header cells that match no template column (reported, then ignored)."""
        return self.header.unknown_columns

    def close(self) -> None:
        """Release any file we opened and a converted sheet we own."""
        for handle in self._owned:
            handle.close()

    def __enter__(self) -> RosterReader:
        """Use as a context manager so files are closed even when a row raises."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close on leaving the with-block."""
        self.close()


def open_roster(
    source: BinaryIO | IO[bytes] | str | os.PathLike[str],
    *,
    filename: str | None = None,
    content_type: str | None = None,
    sheet_name: str | None = None,
    limits: ReadLimits | None = None,
) -> RosterReader:
    """Open a roster, detect its format and map its header; file-level problems raise RosterFileError."""
    owned: list[IO[bytes] | OpenSheet] = []
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


class RosterSource:
    """An uploaded roster that an import reads several times (validation, apply, a resume).

    A CSV is decoded again on each open (a stream; nothing is kept). A workbook's sheet is converted
    on the first open and its spooled rows serve every later open, so calamine parses it once. Close
    the source when the import is done (it deletes the spool).
    """

    def __init__(
        self,
        data: bytes,
        *,
        filename: str | None,
        content_type: str | None,
        sheet_name: str | None,
        limits: ReadLimits | None = None,
    ) -> None:
        """Keep the file's bytes and read options; nothing is parsed until open()."""
        self._data = data
        self._options = {"filename": filename, "content_type": content_type, "sheet_name": sheet_name}
        self._limits = limits or ReadLimits()
        self._sheet: OpenSheet | None = None

    def open(self) -> RosterReader:
        """A reader from the first row; file-level problems raise RosterFileError."""
        if self._sheet is not None:
            return RosterReader(None, **self._options, limits=self._limits, owned=[], sheet=self._sheet)
        owned: list[IO[bytes] | OpenSheet] = []
        reader = RosterReader(io.BytesIO(self._data), **self._options, limits=self._limits, owned=owned)
        if reader.sheet is not None:
            owned.remove(reader.sheet)  # the source keeps the converted sheet for the next open
            self._sheet = reader.sheet
        return reader

    def close(self) -> None:
        """Delete a converted sheet's spool."""
        if self._sheet is not None:
            self._sheet.close()
            self._sheet = None


__all__ = ["RawRow", "ReadLimits", "RosterReader", "RosterSource", "open_roster"]
