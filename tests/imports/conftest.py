"""Fakes and file builders for the pure roster-import tests (no database)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import openpyxl
import pytest

from app.config import Settings
from app.imports.read.reading import RawRow, open_roster
from app.imports.validate.keys import find_duplicates
from app.imports.validate.rows import RegionResolution, ValidatedRow
from app.imports.validate.stream import iter_validated
from app.jobs.handlers import HANDLERS
from app.jobs.worker import Worker

OFFICE_TOWNSHIP = "371721101"
OTHER_TOWNSHIP = "371721102"

# A tiny product taxonomy: name -> leaf code.
PRODUCTS = {
    "苹果": "fruit.apple",
    "apple": "fruit.apple",
    "梨": "fruit.pear",
    "猕猴桃": "fruit.kiwi",
    "茶叶": "tea.leaf",
    "牡丹": "flower.peony",
}

# (province, prefecture, county, township) -> code; 城关镇 exists in two counties.
REGIONS = {
    ("山东省", "菏泽市", "曹县", "大集镇"): "371721101",
    ("山东省", "菏泽市", "曹县", "青菏街道"): "371721102",
    ("山东省", "菏泽市", "曹县", "城关镇"): "371721103",
    ("河南省", "洛阳市", "宜阳县", "城关镇"): "410327101",
}


def fake_map_product(name: str) -> str | None:
    """Map a product name through the fake taxonomy."""
    return PRODUCTS.get(name.casefold()) or PRODUCTS.get(name)


def fake_resolve_region(
    province: str | None, prefecture: str | None, county: str | None, township: str | None
) -> RegionResolution:
    """Resolve names against REGIONS, matching on every name that was given."""
    given = (province, prefecture, county, township)
    hits = [
        (code, "".join(names))
        for names, code in REGIONS.items()
        if all(want is None or want == have for want, have in zip(given, names, strict=True))
    ]
    if len(hits) == 1:
        return RegionResolution(code=hits[0][0])
    if hits:
        return RegionResolution(candidates=tuple(hits))
    return RegionResolution(not_found=True)


HEADER_ZH = ["外部编号", "名称", "类型", "手机号", "行政区划代码", "主营产品", "可分享资源", "可带徒人数"]
HEADER_EN = [
    "external_id",
    "name",
    "kind",
    "phone",
    "region_code",
    "products",
    "resources_offered",
    "capacity",
]


def good_row(n: int, township: str = OFFICE_TOWNSHIP) -> list[str]:
    """A valid row whose external id and phone depend on n."""
    return [f"E{n:04d}", f"示范户{n}", "农户", f"138{n:08d}", township, "苹果、梨", "技术,物流", "2"]


def csv_bytes(
    rows: Sequence[Sequence[str]], *, header: Sequence[str] = HEADER_ZH, encoding: str = "utf-8"
) -> bytes:
    """Build CSV bytes the way Excel writes them (CRLF line ends)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_path(tmp_path: Path, rows: Sequence[Sequence[object]], *, header: Sequence[str] = HEADER_ZH) -> Path:
    """Write an .xlsx with openpyxl and return its path."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "名单"
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    path = tmp_path / "roster.xlsx"
    workbook.save(path)
    return path


def run_import(
    source: bytes | Path, *, filename: str = "roster.csv", office_township: str | None = OFFICE_TOWNSHIP
) -> list[ValidatedRow]:
    """Read and validate a whole file, as the import service will."""
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    with open_roster(stream, filename=filename) as reader:
        return validate_all(list(reader), office_township=office_township)


def validate_all(
    rows: Sequence[RawRow], *, office_township: str | None = OFFICE_TOWNSHIP
) -> list[ValidatedRow]:
    """Both passes of the import over rows in memory: the shared keys, then each row."""
    duplicates = find_duplicates(rows, office_township=office_township, resolve_region=fake_resolve_region)
    return [
        validated
        for _raw, validated in iter_validated(
            rows,
            map_product=fake_map_product,
            resolve_region=fake_resolve_region,
            office_township=office_township,
            duplicates=duplicates,
        )
    ]


@pytest.fixture
def validate_kwargs() -> dict[str, object]:
    """Keyword arguments for validate_row with the fakes and the office township."""
    return {
        "map_product": fake_map_product,
        "resolve_region": fake_resolve_region,
        "office_township": OFFICE_TOWNSHIP,
    }


# ---------------------------------------------------------------- API and job tests (real database)

ZHAXIA = "321322115"  # 扎下镇, 沭阳县
ZHAXIA_VILLAGE = "321322115201"  # a village code the regions table does not hold
SHUYANG_OTHER = "321322001"  # 沭城街道, same county
DAJI = "371721121"  # 大集镇, 曹县
API_HEADER = [
    "外部编号",
    "名称",
    "类型",
    "手机号",
    "行政区划代码",
    "主营产品",
    "可分享资源",
    "可带徒人数",
    "备注",
]


def api_row(n: int, township: str = ZHAXIA, **changes: str) -> list[str]:
    """A valid roster row for a real township; keyword changes replace cells by English field name."""
    cells = {
        "external_id": f"E{n:05d}",
        "name": f"示范户{n}",
        "kind": "农户",
        "phone": f"138{n:08d}",
        "region_code": township,
        "products": "花木、盆景",
        "resources_offered": "技术,物流",
        "capacity": "2",
        "notes": f"第{n}户",
    }
    cells.update(changes)
    return list(cells.values())


@pytest.fixture
def run_jobs(session_factory):
    """Run every queued job (the imports) to the end, as the worker process would."""
    return lambda: Worker(session_factory, HANDLERS).run_until_idle()


@pytest.fixture
def job_settings(settings: Settings) -> Settings:
    """What the import jobs run with: small chunks make checkpoints visible in small files."""
    return settings.model_copy(update={"import_chunk_rows": 3})
