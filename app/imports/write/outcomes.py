"""Each row's outcome and issues, stored in the chunk's transaction for the reports."""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy.orm import Session

from app.bulk import bulk_insert
from app.imports.write.upsert import RowPlan
from app.models import ImportRowIssue, ImportRowResult

# The error report repeats a rejected row's cells; a 1 MB junk cell is cut, not stored whole.
MAX_REPORTED_CELL_CHARS: Final = 2_000


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
