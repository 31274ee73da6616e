"""Read a roster file (CSV, XLSX, .xls or .ods) as (row_number, {field: raw text}) pairs.

Rows are produced one at a time. A CSV is decoded as a stream, so nothing holds the whole file; a
workbook sheet is parsed by calamine in one go, after the checks in workbook.py bound its size and
rows. Row numbers are the spreadsheet's own 1-based numbers (the header is normally row 1), so people
can find a reported row in Excel.
"""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import IO, BinaryIO, NamedTuple

from app.imports.read.decoding import (
    DecodedLines,
    FileFormat,
    RosterFileError,
    choose_delimiter,
    detect_format,
    read_head,
)
from app.imports.read.headers import HeaderMap, looks_like_title, map_headers
from app.imports.read.limits import ReadLimits
from app.imports.read.workbook import corrupt, open_sheet

RowCells = tuple[int, list[str]]


class RawRow(NamedTuple):
    """One data row: its spreadsheet row number and the raw text of each mapped field."""

    row_number: int
    cells: dict[str, str]
    # Fields whose cell holds a formula without a computed value (XLSX written by a program, not Excel).
    formula_fields: frozenset[str] = frozenset()


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
                physical = self._workbook_rows(self._seekable(stream, head), sheet_name)
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

    def _workbook_rows(self, stream: IO[bytes], sheet_name: str | None) -> Iterator[RowCells]:
        """Rows of the chosen sheet as text cells, merged cells filled down (workbook.py)."""
        sheet = open_sheet(stream, self.format, sheet_name, self.limits)
        self.sheet_title = sheet.title
        self.formula_cells = sheet.formulas
        return sheet.rows

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
