"""Validate roster rows one at a time into RosterRow values or bilingual row issues.

Pure: no database. The product taxonomy and the region lookup are injected, so the caller decides
where they come from (the database, a cache, a fake in tests).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Final, Literal, TypeVar

from app.access.regions import within
from app.imports.read.decoding import RosterFileError
from app.imports.read.headers import FIELDS, HEADER_LABEL_ZH
from app.imports.validate.codes import normalise_credit_code, normalise_region_code
from app.imports.validate.normalise import (
    DEFAULT_CAPACITY,
    CellError,
    CellProblem,
    clean_text,
    fold,
    is_blank,
    memoised,
    memoised_warned,
    normalise_capacity,
    normalise_channels,
    normalise_kind,
    normalise_phone,
    normalise_products,
    normalise_resources,
    normalise_sales,
    normalise_years,
    parse_whole_number,
    split_honours,
)
from app.imports.validate.products import ProductGroup, no_group
from app.models import Mentor
from app.profiles.schemas import MAX_EMPLOYEES

Severity = Literal["error", "warning"]
# The text fields whose column has a length: the import refuses longer values instead of cutting them.
STORED_CHARS: Final = {
    field: Mentor.__table__.c[field].type.length for field in ("external_id", "name", "contact_name")
}
FORMULA_WITHOUT_VALUE: Final = CellProblem(
    "formula_without_value",
    "该单元格是公式，但文件中没有保存计算结果（文件不是由 Excel 保存的）。"
    "请在 Excel 中打开文件并保存后重新上传。",
    "The cell holds a formula without a computed value (the file was not saved by Excel). "
    "Open the file in Excel, save it, and upload it again.",
)


def error_value(value: str) -> CellProblem:
    """The problem of a cell that shows an error value instead of data."""
    return CellProblem(
        "cell_error",
        f"该单元格显示错误值“{value}”（公式出错），不是有效数据。请在 Excel 中修正后重新上传。",
        f'The cell shows the error value "{value}" (a failed formula), not data. '
        "Fix it in Excel and upload again.",
    )


RowKey = tuple[str, ...]
_T = TypeVar("_T")
DEFAULT_MAX_CELL_CHARS: Final = 10_000
_SHOWN_VALUE_CHARS: Final = 200  # an issue repeats at most this much of the bad cell


@dataclass(frozen=True, slots=True)
class RowIssue:
    """One problem in one row, addressed by spreadsheet row number and template field."""

    row_number: int
    column: str
    original_value: str
    code: str
    message_zh: str
    message_en: str
    severity: Severity = "error"


@dataclass(frozen=True, slots=True)
class RosterRow:
    """A valid, normalised roster row, ready to upsert."""

    row_number: int
    external_id: str | None
    credit_code: str | None
    name: str
    kind: str
    contact_name: str | None
    phone: str
    region_code: str
    township_code: str
    products: tuple[str, ...]
    channels: tuple[str, ...] = ()
    years_selling: int | None = None
    sales_band_min: float | None = None
    sales_band_max: float | None = None
    employees: int | None = None
    resources_offered: tuple[str, ...] = ()
    capacity: int = DEFAULT_CAPACITY
    honours: tuple[str, ...] = ()
    notes: str | None = None
    warnings: tuple[RowIssue, ...] = ()


@dataclass(frozen=True, slots=True)
class RegionResolution:
    """What the region lookup found for a set of names: one code, several candidates, or nothing."""

    code: str | None = None
    candidates: tuple[tuple[str, str], ...] = ()  # (code, full name) when the names are ambiguous
    not_found: bool = False


MapProduct = Callable[[str], str | None]
MapGroup = Callable[[str], ProductGroup | None]
ResolveRegion = Callable[[str | None, str | None, str | None, str | None], RegionResolution]
PlaceName = Callable[[str], str]


def _place(place_name: PlaceName, code: str, beside: str) -> str:
    """A township as an office reads it: its name with the code `beside` it, or the code alone."""
    name = place_name(code)
    return code if name == code else name + beside.format(code)


@dataclass(frozen=True, slots=True)
class ValidatedRow:
    """The outcome for one row: the row when accepted, and every issue (errors and warnings)."""

    row_number: int
    row: RosterRow | None
    issues: tuple[RowIssue, ...]
    key: RowKey | None = None

    @property
    def ok(self) -> bool:
        """True when the row can be imported."""
        return self.row is not None


class _Collector:
    """Accumulate a row's issues so every problem is reported, not just the first."""

    def __init__(self, row_number: int, raw: dict[str, str]) -> None:
        self.row_number = row_number
        self.raw = raw
        self.issues: list[RowIssue] = []

    def add(
        self, column: str, problem: CellProblem, severity: Severity = "error", value: str | None = None
    ) -> None:
        """Record a problem against a column, quoting (a bounded part of) the original cell."""
        shown = self.raw.get(column, "") if value is None else value
        if len(shown) > _SHOWN_VALUE_CHARS:
            shown = shown[:_SHOWN_VALUE_CHARS] + "…"
        self.issues.append(
            RowIssue(
                self.row_number, column, shown, problem.code, problem.message_zh, problem.message_en, severity
            )
        )

    def required(self, column: str) -> None:
        """Record a missing required cell."""
        label = HEADER_LABEL_ZH.get(column, column)
        self.add(column, CellProblem("required_missing", f"“{label}”为必填项。", f'"{column}" is required.'))

    def has_errors(self) -> bool:
        """True once any error (not warning) has been recorded."""
        return any(issue.severity == "error" for issue in self.issues)


def _region(
    raw: dict[str, str], out: _Collector, resolve_region: ResolveRegion, office_township: str | None
) -> tuple[str, str] | None:
    """(region code as given, township code) from the code column, else from the name columns."""
    if fold(raw.get("region_code", "")):
        try:
            return normalise_region_code(raw["region_code"])
        except CellError as exc:
            out.add("region_code", exc.problem)
            return None
    names = {
        name: clean_text(raw.get(name, "")) or None
        for name in ("province", "prefecture", "county", "township")
    }
    if names["township"] is None:
        out.add(
            "region_code",
            CellProblem(
                "required_missing",
                "“行政区划代码”或“省/市/县/乡镇”为必填项。",
                '"region_code" (or province/prefecture/county/township names) is required.',
            ),
        )
        return None
    found = resolve_region(names["province"], names["prefecture"], names["county"], names["township"])
    shown = "/".join(value for value in names.values() if value)
    if found.code is not None:
        return normalise_region_code(found.code)  # a resolver bug (not 9/12 digits) raises here
    candidates = found.candidates
    # 城关镇 exists in hundreds of counties, but only one of them can be this office's.
    inside = [c for c in candidates if office_township and within(c[0], office_township)]
    if len(inside) == 1:
        return normalise_region_code(inside[0][0])
    if candidates:
        listed = "；".join(f"{name}（{code}）" for code, name in candidates)
        listed_en = "; ".join(f"{name} ({code})" for code, name in candidates)
        out.add(
            "township",
            CellProblem(
                "region_ambiguous",
                f"地区“{shown}”对应多个乡镇：{listed}。请补全省/市/县，或填写行政区划代码。",
                f'Region "{shown}" matches several townships: {listed_en}. '
                "Add the province/prefecture/county or give the region code.",
            ),
            value=shown,
        )
        return None
    out.add(
        "township",
        CellProblem(
            "region_not_found",
            f"找不到地区“{shown}”，请核对名称或填写行政区划代码。",
            f'Region "{shown}" was not found; check the names or give the region code.',
        ),
        value=shown,
    )
    return None


def validate_row(
    row_number: int,
    raw: dict[str, str],
    *,
    map_product: MapProduct,
    resolve_region: ResolveRegion,
    office_township: str | None = None,
    max_cell_chars: int = DEFAULT_MAX_CELL_CHARS,
    formula_fields: Collection[str] = (),
    map_group: MapGroup = no_group,
    error_fields: Collection[str] = (),
    place_name: PlaceName = str,
) -> RosterRow | list[RowIssue]:
    """Normalise one raw row; return the RosterRow, or every issue found when it has an error.

    office_township None means an admin import: the township is whatever the row says.
    formula_fields are cells that hold a formula with no computed value (the reader tells them apart
    from blank cells): their value is unknown, so they get their own error, not "required".
    error_fields are cells showing an error value (#N/A): an error too, never data or a blank.
    place_name words a township code for a person (江苏省宿迁市沭阳县扎下镇); by default the code itself.
    """
    out = _Collector(row_number, raw)
    cells: dict[str, str] = {}
    unusable: set[str] = set()  # cells whose content is not usable; reported once, here
    for name in FIELDS:
        value = raw.get(name, "")
        if name in formula_fields:
            unusable.add(name)
            value = ""
            out.add(name, FORMULA_WITHOUT_VALUE, value="")
        elif name in error_fields:
            unusable.add(name)
            out.add(name, error_value(value))
            value = ""
        elif len(value) > max_cell_chars:
            unusable.add(name)
            value = ""  # reported once here, not again as missing or malformed
            out.add(
                name,
                CellProblem(
                    "cell_too_long",
                    f"单元格超过 {max_cell_chars} 个字符（实际 {len(raw[name])}）。",
                    f"Cell is longer than {max_cell_chars} characters ({len(raw[name])}).",
                ),
            )
        cells[name] = value

    # Decided once per cell here (each cell is asked about once or twice below).
    filled = {name for name, value in cells.items() if value and not is_blank(value)}

    def present(name: str) -> bool:
        """A non-blank cell."""
        return name in filled

    def check(name: str, parse: Callable[[str], _T]) -> _T | None:
        """Run a normaliser on a present cell, recording its error."""
        if not present(name):
            return None
        try:
            return parse(cells[name])
        except CellError as exc:
            out.add(name, exc.problem)
            return None

    def check_warned(name: str, parse: Callable[[str], tuple[_T, list[CellProblem]]]) -> _T | None:
        """Like check, for normalisers that also return warnings."""
        result = check(name, parse)
        if result is None:
            return None
        for warning in result[1]:
            out.add(name, warning, "warning")
        return result[0]

    for name in ("name", "kind", "phone", "products", "resources_offered"):
        if name not in unusable and not present(name):
            out.required(name)

    credit_code = check("credit_code", normalise_credit_code)
    kind = check("kind", _kind)
    phone = check_warned("phone", normalise_phone)
    products = check_warned("products", lambda text: _products(text, map_product, map_group))
    channels = check_warned("channels", _channels)
    years = check_warned("years_selling", _years)
    sales = check("annual_sales_10k_cny", _sales)
    employees = check("employees", _employees)
    resources = check_warned("resources_offered", _resources)
    capacity = check("capacity", _capacity) if present("capacity") else DEFAULT_CAPACITY

    region = None
    if not unusable & {"region_code", "province", "prefecture", "county", "township"}:
        region = _region(cells, out, resolve_region, office_township)
    if region is not None and office_township is not None and not within(region[1], office_township):
        here, office = _place(place_name, region[1], "（{}）"), place_name(office_township)
        out.add(
            "region_code" if present("region_code") else "township",
            CellProblem(
                "outside_township",
                f"该行属于{here}，不在本乡镇（{office}）管辖范围内，已拒绝。",
                f"The row is in {_place(place_name, region[1], ' ({})')}, outside this office's township "
                f"({office}).",
            ),
            value=region[0],
        )

    texts = {
        "external_id": fold(cells["external_id"]) or None,
        "name": clean_text(cells["name"]),
        "contact_name": clean_text(cells["contact_name"]) or None,
    }
    for field, value in texts.items():
        # Longer than its column: cut when stored, two ids alike up to the cut would be one seller.
        limit = STORED_CHARS[field]
        if value and len(value) > limit:
            out.add(
                field,
                CellProblem(
                    "value_too_long",
                    f"最多 {limit} 个字符（实际 {len(value)}）。",
                    f"At most {limit} characters ({len(value)} given).",
                ),
            )

    honours = check_warned("honours", split_honours)
    if out.has_errors() or None in (kind, phone, products, resources, region, capacity):
        return out.issues
    assert kind and phone and products and resources and region and capacity  # narrowed for the type checker
    return RosterRow(
        row_number=row_number,
        external_id=texts["external_id"],
        credit_code=credit_code,
        name=texts["name"] or "",
        kind=kind,
        contact_name=texts["contact_name"],
        phone=phone,
        region_code=region[0],
        township_code=region[1],
        products=products,
        channels=channels or (),
        years_selling=years,
        sales_band_min=sales[0] if sales else None,
        sales_band_max=sales[1] if sales else None,
        employees=employees,
        resources_offered=resources,
        capacity=capacity,
        honours=honours or (),
        notes=clean_text(cells["notes"]) or None,
        warnings=tuple(out.issues),
    )


def _parse_employees(text: str) -> int:
    """Employees: a whole number, "12人" allowed."""
    return parse_whole_number(
        text,
        field_zh="员工人数",
        field_en="Employees",
        code="employees_invalid",
        units="人名个",
        maximum=MAX_EMPLOYEES,
    )


# The columns whose few values repeat down a roster, remembered (names, phones and codes are unique).
_kind = memoised(normalise_kind)
_sales = memoised(normalise_sales)
_employees = memoised(_parse_employees)
_capacity = memoised(normalise_capacity)
_channels = memoised_warned(normalise_channels)
_years = memoised_warned(normalise_years)
_resources = memoised_warned(normalise_resources)
_products = memoised_warned(normalise_products)


__all__ = [
    "RegionResolution",
    "RosterFileError",
    "RosterRow",
    "RowIssue",
    "ValidatedRow",
    "validate_row",
]
