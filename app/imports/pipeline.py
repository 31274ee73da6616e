"""The row stream an import works on (file → validated rows with their raw cells) and report writing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from sqlalchemy.orm import Session

from app.bulk import bulk_insert
from app.imports.reading import RawRow, RosterReader
from app.imports.resolve import RegionResolver
from app.imports.rows import RowIssue, ValidatedRow, iter_validated
from app.imports.upsert import RowPlan
from app.models import ImportRowIssue, ImportRowResult
from matching.taxonomy import lookup_product

# The error report repeats a rejected row's cells; a 1 MB junk cell is cut, not stored whole.
MAX_REPORTED_CELL_CHARS: Final = 2_000

StreamItem = tuple[ValidatedRow, dict[str, str], str | None]


def validated_stream(
    reader: RosterReader, resolver: RegionResolver, office_township: str | None
) -> Iterator[StreamItem]:
    """(validated row, raw cells, region code to store) for every data row, in file order."""
    current: list[RawRow] = []

    def feed() -> Iterator[tuple[int, dict[str, str]]]:
        for raw in reader:
            current[:] = [raw]
            yield raw

    # iter_validated yields exactly once per row it pulls, so `current` is the row just validated.
    for validated in iter_validated(
        feed(), map_product=lookup_product, resolve_region=resolver, office_township=office_township
    ):
        raw = current[0].cells
        if validated.row is None:
            yield validated, raw, None
            continue
        region = resolver.locate(validated.row.region_code)
        if region is None:
            issue = RowIssue(
                validated.row_number,
                "region_code",
                validated.row.region_code,
                "region_not_found",
                f"行政区划代码 {validated.row.region_code} 不存在（乡镇代码表中没有）。",
                f"Region code {validated.row.region_code} does not exist (no such township).",
            )
            yield (
                ValidatedRow(validated.row_number, None, (*validated.issues, issue), validated.key),
                raw,
                None,
            )
            continue
        yield validated, raw, region


def _clip(raw: dict[str, str] | None) -> dict[str, str] | None:
    if raw is None:
        return None
    return {
        name: value if len(value) <= MAX_REPORTED_CELL_CHARS else value[:MAX_REPORTED_CELL_CHARS] + "…"
        for name, value in raw.items()
    }


def write_report(session: Session, import_id: int, plans: list[RowPlan], *, only_rejected: bool) -> None:
    """Store each row's outcome and issues (bulk inserts, in the chunk's transaction)."""
    chosen = [p for p in plans if p.outcome == "rejected"] if only_rejected else plans
    results: list[dict[str, Any]] = [
        {
            "import_id": import_id,
            "row_number": p.row_number,
            "outcome": p.outcome,
            "mentor_id": p.mentor_id,
            "changed_fields": p.changed,
            "raw": _clip(p.raw) if p.outcome == "rejected" else None,
        }
        for p in chosen
    ]
    issues: list[dict[str, Any]] = [
        {
            "import_id": import_id,
            "row_number": issue.row_number,
            "column": issue.column[:64],
            "original_value": issue.original_value,
            "code": issue.code,
            "severity": issue.severity,
            "message_zh": issue.message_zh,
            "message_en": issue.message_en,
        }
        for p in chosen
        for issue in p.issues
    ]
    bulk_insert(session, ImportRowResult.__table__, results)
    bulk_insert(session, ImportRowIssue.__table__, issues)
