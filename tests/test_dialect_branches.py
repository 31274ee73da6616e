"""Dialect branches (SQLite vs PostgreSQL) live in the database layer (app/db.py and the modules below)."""

from __future__ import annotations

import re
from pathlib import Path

from app.config import PROJECT_ROOT

# app/aggregates.py holds dialect-specific aggregate SQL (medians), app/plain_reads.py the SQL of an id
# list and reads on the DBAPI cursor: part of the database layer too.
DATABASE_LAYER = {
    Path("app/db.py"),
    Path("app/bulk.py"),
    Path("app/aggregates.py"),
    Path("app/plain_reads.py"),
}
_BRANCH = re.compile(r"dialect\.name|\.dialect\b|pg_advisory|postgresql\.insert|sqlite\.insert")


def test_no_dialect_branch_outside_the_database_layer() -> None:
    offenders = []
    for path in sorted((PROJECT_ROOT / "app").rglob("*.py")):
        relative = path.relative_to(PROJECT_ROOT)
        if relative in DATABASE_LAYER:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if _BRANCH.search(line):
                offenders.append(f"{relative}:{number}: {line.strip()}")
    assert offenders == []


def test_the_scan_sees_a_branch() -> None:
    # Guards the pattern itself: the database layer does branch, so the scan must notice it there.
    text = (PROJECT_ROOT / "app/bulk.py").read_text(encoding="utf-8")
    assert _BRANCH.search(text)
