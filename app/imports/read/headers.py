"""Map a roster's header row to the template's canonical field names."""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from app.imports.read.decoding import RosterFileError

# Canonical field -> accepted header spellings (template names first, then tolerated variants
# seen in real township spreadsheets). Keys are compared after header_key().
HEADER_NAMES: Final[dict[str, tuple[str, ...]]] = {
    "external_id": ("外部编号", "external_id"),
    "credit_code": ("统一社会信用代码", "credit_code", "信用代码"),
    "name": ("名称", "name"),
    "kind": ("类型", "kind"),
    "contact_name": ("联系人", "contact_name"),
    "phone": ("手机号", "phone", "手机号码", "手机"),
    "region_code": ("行政区划代码", "region_code", "区划代码"),
    "province": ("省", "province", "省份"),
    "prefecture": ("市", "prefecture", "地市", "市州"),
    "county": ("县", "county", "县区", "区县", "县(区)", "县(市、区)"),
    "township": ("乡镇", "township", "乡镇(街道)", "乡镇街道"),
    "products": ("主营产品", "products"),
    "channels": ("销售渠道", "channels"),
    "years_selling": ("从业年限", "years_selling"),
    "annual_sales_10k_cny": ("年销售额(万元)", "annual_sales_10k_cny", "年销售额"),
    "employees": ("员工人数", "employees"),
    "resources_offered": ("可分享资源", "resources_offered"),
    "capacity": ("可带徒人数", "capacity"),
    "honours": ("荣誉", "honours", "honors"),
    "notes": ("备注", "notes"),
}

FIELDS: Final[tuple[str, ...]] = tuple(HEADER_NAMES)
REQUIRED_FIELDS: Final[tuple[str, ...]] = ("name", "kind", "phone", "products", "resources_offered")
REGION_NAME_FIELDS: Final[tuple[str, ...]] = ("province", "prefecture", "county", "township")
# The first (Chinese) spelling is the one we show people.
HEADER_LABEL_ZH: Final[dict[str, str]] = {field: names[0] for field, names in HEADER_NAMES.items()}

_SEPARATORS_RE: Final = re.compile(r"[\s\-_.]+")


def header_key(text: str) -> str:
    """Normalise a header cell: full-width to half-width, case, spaces, required-marker asterisks."""
    key = unicodedata.normalize("NFKC", text).strip().strip("*").strip().casefold()
    # "External ID", "external-id", "external_id" and "年销售额 (万元)" match their template names.
    return _SEPARATORS_RE.sub("", key)


_LOOKUP: Final[dict[str, str]] = {
    header_key(name): field for field, names in HEADER_NAMES.items() for name in names
}


@dataclass(frozen=True, slots=True)
class HeaderMap:
    """Which column holds which field, plus the columns we ignore."""

    columns: dict[int, str]
    unknown_columns: tuple[str, ...]
    # The header text the file itself uses for each field ("年销售额（万元）"), for reports back to it.
    labels: dict[str, str] = dataclasses.field(default_factory=dict)

    def apply(self, cells: Sequence[str]) -> dict[str, str]:
        """Turn one row's cells into {field: raw text}; absent cells become ""."""
        width = len(cells)
        return {field: (cells[index] if index < width else "") for index, field in self.columns.items()}

    def fields(self) -> frozenset[str]:
        """The canonical fields present in the file."""
        return frozenset(self.columns.values())


def field_for_header(text: str) -> str | None:
    """The canonical field a header cell names, or None."""
    return _LOOKUP.get(header_key(text))


def map_headers(cells: Sequence[str]) -> HeaderMap:
    """Map a header row; raise RosterFileError on duplicate or missing required columns."""
    columns: dict[int, str] = {}
    first_seen: dict[str, str] = {}
    unknown: list[str] = []
    duplicates: list[str] = []
    for index, cell in enumerate(cells):
        if not cell.strip():
            continue  # merged or padding header cells carry no column
        name = field_for_header(cell)
        if name is None:
            unknown.append(cell.strip())
        elif name in first_seen:
            duplicates.append(f"{first_seen[name]} / {cell.strip()}")
        else:
            first_seen[name] = cell.strip()
            columns[index] = name
    if duplicates:
        listed = "; ".join(duplicates)
        raise RosterFileError(
            "duplicate_header",
            f"表头重复（同一列出现多次）：{listed}。请删除多余的列。",
            f"Duplicate header (the same column appears more than once): {listed}. Remove the extra column.",
        )
    present = set(columns.values())
    missing = [field for field in REQUIRED_FIELDS if field not in present]
    region_by_names = all(field in present for field in REGION_NAME_FIELDS)
    if "region_code" not in present and not region_by_names:
        missing_names = [field for field in REGION_NAME_FIELDS if field not in present]
        missing.append("region_code | " + "+".join(missing_names))
    if missing:
        zh = "、".join(_label_zh(item) for item in missing)
        en = ", ".join(missing)
        raise RosterFileError(
            "missing_columns",
            f"缺少必填列：{zh}（行政区划代码，或省/市/县/乡镇四列，二者需有其一）。",
            f"Missing required columns: {en} (region_code, or the province/prefecture/county/township "
            "name columns, is required).",
        )
    return HeaderMap(columns=columns, unknown_columns=tuple(unknown), labels=dict(first_seen))


def _label_zh(item: str) -> str:
    """Chinese label for a missing-column entry, including the region alternative."""
    if item.startswith("region_code"):
        names = item.split("|", 1)[1].strip().split("+")
        return "行政区划代码 或 " + "/".join(HEADER_LABEL_ZH[name] for name in names if name)
    return HEADER_LABEL_ZH[item]


def looks_like_title(cells: Sequence[str]) -> bool:
    """A banner row above the header ("XX镇电商示范户名单"): one filled cell naming no field."""
    filled = [cell for cell in cells if cell.strip()]
    return len(filled) <= 1 and not any(field_for_header(cell) for cell in filled)


def file_labels(header: HeaderMap) -> list[list[str]]:
    """[[field, header text], ...] as the file writes its columns, in its order (kept on the import)."""
    return [[name, header.labels.get(name, HEADER_LABEL_ZH[name])] for name in header.columns.values()]
