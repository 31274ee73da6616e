"""Reports as XLSX (openpyxl write-only: rows go to disk as they come) and as Excel-friendly CSV.

The API sends a report as data: its column codes and raw values. The console sends the same figures
as the page words them (`app.console.report_views.worded_sheet`): headings, names, yes/no and
percentages in the page's language. Both go through `Sheet`, so one writer serves both.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from starlette.responses import StreamingResponse

from app.cells import neutralise
from app.reports.common import Report

# Spooled files stay in memory while small and move to disk past this size, so memory stays flat.
SPOOL_BYTES = 1 << 20
CHUNK_BYTES = 64 * 1024
MEDIA = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


@dataclass(frozen=True, slots=True)
class Sheet:
    """One report as a table to write: title lines (XLSX only), the header, the rows, the definitions."""

    name: str
    title_rows: list[list[Any]]
    header: list[str]
    rows: Sequence[Sequence[Any]]
    definitions_name: str
    definitions: list[list[str]]
    # Columns (by index) holding shares from 0 to 1: shown as percentages in the XLSX.
    percent_columns: frozenset[int] = field(default_factory=frozenset)
    # The CSV's rows, where they differ from `rows` (a CSV cell has no format: "47.6%" as text).
    csv_rows: Sequence[Sequence[Any]] | None = None


def data_sheet(report: Report) -> Sheet:
    """The report as data: column codes, raw values, the definitions in both languages."""
    p = report.params
    start, end = p.date_from.isoformat(), p.date_to.isoformat()
    return Sheet(
        name=report.name,
        title_rows=[
            [report.title[0], report.title[1]],
            ["scope", p.scope or "全国 nationwide", "from", start, "to", end],
        ],
        header=list(report.columns),
        rows=report.rows,
        definitions_name="definitions",
        definitions=[[zh, en] for zh, en in report.definitions],
    )


def write_xlsx(sheet: Sheet, out: IO[bytes]) -> None:
    """The report sheet (title, header, rows) and a definitions sheet, streamed in write-only mode."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet.name[:31])  # Excel's limit on a sheet name

    for row in sheet.title_rows:
        ws.append(row)
    ws.append(sheet.header)
    for row in sheet.rows:
        ws.append([_xlsx_cell(ws, i, v, sheet.percent_columns) for i, v in enumerate(row)])
    defs = wb.create_sheet(sheet.definitions_name[:31])
    for line in sheet.definitions:
        defs.append(line)
    wb.save(out)


def _xlsx_cell(ws: Any, index: int, value: Any, percent: frozenset[int]) -> Any:
    value = neutralise(value)
    if index in percent and isinstance(value, int | float) and not isinstance(value, bool):
        cell = WriteOnlyCell(ws, value=value)
        cell.number_format = "0.0%"
        return cell
    return value


def write_csv(sheet: Sheet, out: IO[bytes]) -> None:
    """UTF-8 with a BOM so Excel opens the Chinese names correctly; one header row, then the rows."""
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=True)
    writer = csv.writer(text)
    writer.writerow(sheet.header)
    for row in sheet.csv_rows if sheet.csv_rows is not None else sheet.rows:
        writer.writerow([neutralise(v) for v in row])
    text.flush()
    text.detach()


def spooled(sheet: Sheet, fmt: str) -> IO[bytes]:
    """The export written to a spooled temporary file, rewound for reading."""
    out: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - closed by iter_file
    (write_xlsx if fmt == "xlsx" else write_csv)(sheet, out)
    out.seek(0)
    return out


def iter_file(f: IO[bytes]) -> Iterator[bytes]:
    """Stream a file in chunks and close it at the end."""
    try:
        while chunk := f.read(CHUNK_BYTES):
            yield chunk
    finally:
        f.close()


def download(report: Report, fmt: str, sheet: Sheet | None = None) -> StreamingResponse:
    """The report as an XLSX or CSV attachment: as data (the API), or as `sheet` words it (the console)."""
    p = report.params
    filename = f"{report.name}_{p.scope or 'all'}_{p.date_from}_{p.date_to}.{fmt}"
    return StreamingResponse(
        iter_file(spooled(sheet or data_sheet(report), fmt)),
        media_type=MEDIA[fmt],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
