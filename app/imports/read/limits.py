"""Bounds that keep a hostile or broken roster file from exhausting time or memory."""

from __future__ import annotations

from dataclasses import dataclass

from app.imports.read.decoding import MAX_LINE_CHARS


@dataclass(frozen=True, slots=True)
class ReadLimits:
    """Bounds that keep a hostile or broken file from exhausting time or memory."""

    max_columns: int = 1_000
    max_line_chars: int = MAX_LINE_CHARS
    max_xlsx_uncompressed_bytes: int = 512 * 1024 * 1024
    # A part that inflates to more than this many times its stored size, once it is large, is a
    # decompression bomb: each byte uploaded would cost the worker hundreds of bytes of parsing. Excel's
    # sheets inflate 5-30x; a sheet of millions of empty formatted rows about 100x.
    max_compression_ratio: int = 200
    ratio_checked_from_bytes: int = 32 * 1024 * 1024
    # calamine loads an XLSX's whole shared-string table when the workbook opens, whichever sheet is
    # read, at about twice its XML size (one heap string per entry). A 100k-row roster saved by Excel
    # holds a few hundred thousand strings (~15 MB); the bounds leave room for the 200k-row limit while
    # a 20 MB upload of repeated text can no longer unfold into gigabytes of strings.
    max_shared_strings_bytes: int = 64 * 1024 * 1024
    max_shared_strings: int = 2_000_000
    # Text inside a sheet's XML (inline strings, ODS cells) is held by calamine too: a 2 MB upload of
    # one long repeated text per row had taken the process to 500 MB. A 100k-row roster has ~10 MB.
    max_cell_text_bytes: int = 64 * 1024 * 1024
    max_merged_ranges: int = 100_000
    header_search_rows: int = 5  # title banners allowed above the header
    # Checked before a workbook's sheet is loaded (calamine holds a whole sheet in memory).
    max_rows: int = 200_000
    # calamine holds a sheet as a dense rows x columns grid (about 32 bytes a cell before any text), so
    # one stray cell far below or to the right of a roster costs as much as filling the whole area.
    # 6M cells is a full 200k-row roster with 30 columns.
    max_sheet_cells: int = 6_000_000
