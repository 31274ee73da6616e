"""The downloadable error report: rejected rows with their original cells and the reason, as CSV.

Made for Excel: UTF-8 with a BOM (so Chinese opens correctly), and cells that Excel would run as a
formula (=, +, -, @, tab, CR first) are neutralised with a leading apostrophe (CSV injection).
Streamed page by page, each page in its own short session.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.cells import neutralise
from app.i18n import Lang
from app.imports.read.decoding import RosterFileError
from app.imports.read.headers import FIELDS, HEADER_LABEL_ZH, file_labels
from app.imports.read.reading import open_roster
from app.models import ImportRowIssue, ImportRowResult, RosterFile, RosterImport

_PAGE: Final = 500


def _line(cells: list[str]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([neutralise(c) for c in cells])
    return buffer.getvalue().encode("utf-8")


def _rejected_page(
    session: Session, import_id: int, after_row: int
) -> tuple[list[ImportRowResult], dict[int, list[ImportRowIssue]]]:
    rows = list(
        session.scalars(
            select(ImportRowResult)
            .where(
                ImportRowResult.import_id == import_id,
                ImportRowResult.outcome == "rejected",
                ImportRowResult.row_number > after_row,
            )
            .order_by(ImportRowResult.row_number)
            .limit(_PAGE)
        )
    )
    issues: dict[int, list[ImportRowIssue]] = {}
    if rows:
        for issue in session.scalars(
            select(ImportRowIssue)
            .where(
                ImportRowIssue.import_id == import_id,
                ImportRowIssue.row_number.in_([r.row_number for r in rows]),
                ImportRowIssue.severity == "error",
            )
            .order_by(ImportRowIssue.id)
        ):
            issues.setdefault(issue.row_number, []).append(issue)
    return rows, issues


def file_labels_of(session: Session, import_id: int) -> dict[str, str]:
    """{field: header text} as the uploaded file writes it, in the file's column order.

    The report's columns carry the office's own text, "年销售额（万元）" included, not the template's
    spelling. The labels were kept when the import read its header; only an import stored before they
    were kept has its header read again from the stored upload.
    """
    imp = session.get(RosterImport, import_id)
    if imp is None:
        return {}
    if imp.column_labels is not None:
        return {name: label for name, label in imp.column_labels}
    file = session.get(RosterFile, import_id)
    if file is None:
        return {}
    try:
        with open_roster(
            io.BytesIO(file.data), filename=imp.filename, content_type=imp.content_type, sheet_name=imp.sheet
        ) as reader:
            return dict(file_labels(reader.header))
    except RosterFileError:
        return {}  # a file that failed before its header has no rejected rows to report


def column_label(labels: dict[str, str], column: str | None, lang: Lang) -> str:
    """A column as the office's file names it; else the template's Chinese name, or the field in English."""
    name = column or ""
    if name in labels:
        return labels[name]
    return HEADER_LABEL_ZH.get(name, name) if lang == "zh-CN" else name.replace("_", " ")


def _zh_label(labels: dict[str, str], column: str | None) -> str:
    """A reason's column as the file names it, else the template's Chinese name."""
    name = column or ""
    return labels.get(name) or HEADER_LABEL_ZH.get(name, name)


def error_csv(sessions: sessionmaker[Session], import_id: int, lang: Lang) -> Iterator[bytes]:
    """The report's bytes, BOM first; the columns are the file's own, under its own header text."""
    yield codecs.BOM_UTF8
    with sessions() as session:
        first = session.scalar(
            select(ImportRowResult.raw)
            .where(ImportRowResult.import_id == import_id, ImportRowResult.outcome == "rejected")
            .order_by(ImportRowResult.row_number)
            .limit(1)
        )
        labels = file_labels_of(session, import_id) if first else {}
    present = set(first or {})
    columns = [f for f in labels if f in present] or [f for f in FIELDS if f in present]
    zh = lang == "zh-CN"
    yield _line(
        ["行号" if zh else "row"]
        + [labels.get(c) or (HEADER_LABEL_ZH[c] if zh else c) for c in columns]
        + ["错误原因" if zh else "reason"]
    )
    after = 0
    while True:
        with sessions() as session:
            rows, issues = _rejected_page(session, import_id, after)
        if not rows:
            return
        for row in rows:
            raw = row.raw or {}
            reasons = [
                f"{_zh_label(labels, i.column) if zh else i.column}: {i.message_zh if zh else i.message_en}"
                for i in issues.get(row.row_number, [])
            ]
            yield _line(
                [
                    str(row.row_number),
                    *(raw.get(c, "") for c in columns),
                    "；".join(reasons) if zh else "; ".join(reasons),
                ]
            )
        after = rows[-1].row_number
