"""Reports as XLSX (openpyxl write-only: rows go to disk as they come) and as Excel-friendly CSV."""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterator
from typing import IO, Any

from openpyxl import Workbook
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


def _title_rows(report: Report) -> list[list[Any]]:
    p = report.params
    return [
        [report.title[0], report.title[1]],
        ["scope", p.scope or "全国 nationwide", "from", p.date_from.isoformat(), "to", p.date_to.isoformat()],
    ]


def write_xlsx(report: Report, out: IO[bytes]) -> None:
    """The report sheet (header + rows) and a definitions sheet, streamed in write-only mode."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(report.name)
    for row in _title_rows(report):
        ws.append(row)
    ws.append(report.columns)
    for row in report.rows:
        ws.append([neutralise(v) for v in row])
    defs = wb.create_sheet("definitions")
    for zh, en in report.definitions:
        defs.append([zh, en])
    wb.save(out)


def write_csv(report: Report, out: IO[bytes]) -> None:
    """UTF-8 with a BOM so Excel opens the Chinese names correctly; one header row, then the rows."""
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=True)
    writer = csv.writer(text)
    writer.writerow(report.columns)
    for row in report.rows:
        writer.writerow([neutralise(v) for v in row])
    text.flush()
    text.detach()


def spooled(report: Report, fmt: str) -> IO[bytes]:
    """The export written to a spooled temporary file, rewound for reading."""
    out: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - closed by iter_file
    (write_xlsx if fmt == "xlsx" else write_csv)(report, out)
    out.seek(0)
    return out


def iter_file(f: IO[bytes]) -> Iterator[bytes]:
    """Stream a file in chunks and close it at the end."""
    try:
        while chunk := f.read(CHUNK_BYTES):
            yield chunk
    finally:
        f.close()


def download(report: Report, fmt: str) -> StreamingResponse:
    """The report as an XLSX or CSV attachment (the API and the console send the same file)."""
    p = report.params
    filename = f"{report.name}_{p.scope or 'all'}_{p.date_from}_{p.date_to}.{fmt}"
    return StreamingResponse(
        iter_file(spooled(report, fmt)),
        media_type=MEDIA[fmt],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
