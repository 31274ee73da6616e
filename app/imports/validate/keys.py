"""Stable keys of roster rows, and the file-wide rule for a key that appears on several rows.

A row claims its stable key, (township, external id), else credit code, else phone, and also its
credit code when it has one next to an external id (a credit code belongs to one seller). When two
or more data rows of a file share a claim, EVERY one of them is rejected: which row is right cannot
be told, and keeping the first would make the outcome depend on row order. The claims are counted in
a pass over the raw cells before anything is written, so the rule holds across chunks and resumes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from app.imports.read.headers import HEADER_LABEL_ZH
from app.imports.read.reading import RawRow
from app.imports.validate.codes import normalise_credit_code, normalise_region_code
from app.imports.validate.normalise import CellError, CellProblem, clean_text, fold, normalise_phone
from app.imports.validate.rows import ResolveRegion, RosterRow, RowKey

Duplicates = Mapping[RowKey, tuple[int, ...]]
_KEY_COLUMN: Final[dict[str, str]] = {"ext": "external_id", "credit": "credit_code", "phone": "phone"}
_LISTED_ROWS: Final = 10


def _claims(ext: str | None, credit: str | None, phone: str | None, township: str | None) -> list[RowKey]:
    """The one builder both passes use, so a row claims the same keys in each."""
    claims: list[RowKey] = []
    if ext and township:
        claims.append(("ext", township, ext))
    if credit:
        claims.append(("credit", credit))
    if not ext and not credit and phone:
        claims.append(("phone", phone))
    return claims


def row_claims(row: RosterRow, office_township: str | None) -> list[RowKey]:
    """The keys a valid row claims."""
    return _claims(row.external_id, row.credit_code, row.phone, office_township or row.township_code)


def _township(cells: Mapping[str, str], resolve_region: ResolveRegion) -> str | None:
    """The row's township for an admin import's external-id key, as validation would find it."""
    if fold(cells.get("region_code", "")):
        try:
            return normalise_region_code(cells["region_code"])[1]
        except CellError:
            return None
    names = [clean_text(cells.get(n, "")) or None for n in ("province", "prefecture", "county", "township")]
    if names[3] is None:
        return None
    code = resolve_region(*names).code
    return code[:9] if code else None


def cell_claims(
    cells: Mapping[str, str], *, office_township: str | None, resolve_region: ResolveRegion
) -> list[RowKey]:
    """The keys a raw row claims, from its key cells only (the rest of the row is not validated)."""
    ext = fold(cells.get("external_id", "")) or None
    credit_cell = fold(cells.get("credit_code", ""))
    credit = None
    if credit_cell:
        try:
            credit = normalise_credit_code(credit_cell)
        except CellError:
            return []  # the row is rejected for its credit code; it holds no key to share
    phone = None
    if not ext and not credit:
        try:
            phone = normalise_phone(cells.get("phone", ""))[0] if fold(cells.get("phone", "")) else None
        except CellError:
            phone = None
    township = None
    if ext:
        township = office_township or _township(cells, resolve_region)
    return _claims(ext, credit, phone, township)


class DuplicateFinder:
    """Count claims over a stream of raw rows; `duplicates()` gives the claims held by 2+ rows."""

    def __init__(self, *, office_township: str | None, resolve_region: ResolveRegion) -> None:
        self._office = office_township
        self._resolve = resolve_region
        self._first: dict[RowKey, int] = {}
        self._more: dict[RowKey, list[int]] = {}

    def add(self, raw: RawRow) -> None:
        """Note the claims of one row."""
        for claim in cell_claims(raw.cells, office_township=self._office, resolve_region=self._resolve):
            first = self._first.setdefault(claim, raw.row_number)
            if first != raw.row_number:
                self._more.setdefault(claim, [first]).append(raw.row_number)

    def duplicates(self) -> dict[RowKey, tuple[int, ...]]:
        """Each shared claim with the rows that hold it, in file order."""
        return {claim: tuple(rows) for claim, rows in self._more.items()}


def find_duplicates(
    rows: Iterable[RawRow], *, office_township: str | None, resolve_region: ResolveRegion
) -> dict[RowKey, tuple[int, ...]]:
    """The shared claims of a whole stream of raw rows."""
    finder = DuplicateFinder(office_township=office_township, resolve_region=resolve_region)
    for raw in rows:
        finder.add(raw)
    return finder.duplicates()


def duplicate_problem(claim: RowKey, rows: tuple[int, ...]) -> tuple[str, str, CellProblem]:
    """(column, value, problem) for a row whose claim other rows of the file share."""
    column = _KEY_COLUMN[claim[0]]
    shown = "、".join(str(n) for n in rows[:_LISTED_ROWS]) + ("…" if len(rows) > _LISTED_ROWS else "")
    shown_en = ", ".join(str(n) for n in rows[:_LISTED_ROWS]) + ("…" if len(rows) > _LISTED_ROWS else "")
    label = HEADER_LABEL_ZH[column]
    return (
        column,
        claim[-1],
        CellProblem(
            "duplicate_key_in_file",
            f"本文件第 {shown} 行的{label}相同（{claim[-1]}），无法确定以哪一行为准，这些行均未导入。"
            "请只保留一行后重新上传。",
            f"Rows {shown_en} of this file share the same {column} ({claim[-1]}); none of them was "
            "imported, since which one is right cannot be told. Keep one row and upload again.",
        ),
    )


def row_key(row: RosterRow, office_township: str | None) -> RowKey:
    """The template's stable key: (township, external id), else credit code, else phone."""
    return row_claims(row, office_township)[0]
