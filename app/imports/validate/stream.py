"""The validated row stream of an import: raw rows from the reader, paired with their validation."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import NamedTuple

from app.imports.read.reading import RawRow, RosterReader
from app.imports.validate.keys import Duplicates, RowKey, duplicate_problem, row_claims, row_key
from app.imports.validate.products import no_group, product_group
from app.imports.validate.resolve import RegionResolver
from app.imports.validate.rows import (
    DEFAULT_MAX_CELL_CHARS,
    MapGroup,
    MapProduct,
    PlaceName,
    ResolveRegion,
    RowIssue,
    ValidatedRow,
    validate_row,
)
from matching.taxonomy import lookup_product


class Checked(NamedTuple):
    """One data row after validation: its raw cells, the outcome, and the region code to store."""

    raw: RawRow
    validated: ValidatedRow
    region: str | None


def iter_validated(
    rows: Iterable[RawRow],
    *,
    map_product: MapProduct,
    resolve_region: ResolveRegion,
    office_township: str | None = None,
    duplicates: Duplicates | None = None,
    max_cell_chars: int = DEFAULT_MAX_CELL_CHARS,
    map_group: MapGroup = no_group,
    place_name: PlaceName = str,
) -> Iterator[tuple[RawRow, ValidatedRow]]:
    """(raw, validated) for each row; a row whose key other rows share (see keys.py) is rejected."""
    shared_keys = duplicates or {}
    # A row rejected for its own cells still shares its keys: its report says so too, as its twins' do.
    shared_by_row: dict[int, list[RowKey]] = {}
    for claim, numbers in shared_keys.items():
        for number in numbers:
            shared_by_row.setdefault(number, []).append(claim)
    for raw in rows:
        result = validate_row(
            raw.row_number,
            raw.cells,
            map_product=map_product,
            resolve_region=resolve_region,
            office_township=office_township,
            max_cell_chars=max_cell_chars,
            formula_fields=raw.formula_fields,
            error_fields=raw.error_fields,
            map_group=map_group,
            place_name=place_name,
        )
        if isinstance(result, list):
            twins = [
                _duplicate_issue(raw.row_number, c, shared_keys[c])
                for c in shared_by_row.get(raw.row_number, ())
            ]
            yield raw, ValidatedRow(raw.row_number, None, (*result, *twins))
            continue
        key = row_key(result, office_township)
        shared = [claim for claim in row_claims(result, office_township) if claim in shared_keys]
        if shared:
            issues = [_duplicate_issue(raw.row_number, claim, shared_keys[claim]) for claim in shared]
            yield raw, ValidatedRow(raw.row_number, None, (*result.warnings, *issues), key)
            continue
        yield raw, ValidatedRow(raw.row_number, result, result.warnings, key)


def _duplicate_issue(row_number: int, claim: RowKey, rows: tuple[int, ...]) -> RowIssue:
    column, value, problem = duplicate_problem(claim, rows)
    return RowIssue(row_number, column, value, problem.code, problem.message_zh, problem.message_en)


def validated_stream(
    reader: RosterReader, resolver: RegionResolver, office_township: str | None, duplicates: Duplicates
) -> Iterator[Checked]:
    """Every data row of the file, in file order, checked against the template and the regions table."""
    for raw, validated in iter_validated(
        reader,
        map_product=lookup_product,
        map_group=product_group,
        resolve_region=resolver,
        office_township=office_township,
        duplicates=duplicates,
        place_name=resolver.place,
    ):
        if validated.row is None:
            yield Checked(raw, validated, None)
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
            rejected = ValidatedRow(validated.row_number, None, (*validated.issues, issue), validated.key)
            yield Checked(raw, rejected, None)
            continue
        yield Checked(raw, validated, region)
