"""A profile's derived columns (county_code, channel and resource masks) come from one function."""

from __future__ import annotations

import re
from pathlib import Path

from app.config import PROJECT_ROOT
from app.imports.validate.rows import RosterRow
from app.imports.write.upsert import mentor_values
from app.profiles.derived import derived_columns
from matching.vocab import CHANNELS, RESOURCE_TYPES

# Deriving, not reading: a county cut from a region code, a mask built from a list.
_WRITES_DERIVED = re.compile(
    r"county_code\"?\s*[:=][^=].*\[:6\]|_mask\"?\s*[:=][^=].*(<<|bitmask)|\bbitmask\("
)
_ALLOWED = {Path("app/profiles/derived.py")}


def test_no_copy_of_the_derivation_outside_the_rule() -> None:
    offenders = []
    for path in sorted((PROJECT_ROOT / "app").rglob("*.py")):
        relative = path.relative_to(PROJECT_ROOT)
        if relative in _ALLOWED:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if _WRITES_DERIVED.search(line):
                offenders.append(f"{relative}:{number}: {line.strip()}")
    assert offenders == []


def test_the_scan_sees_a_copy() -> None:
    assert _WRITES_DERIVED.search('        "county_code": region[:6],')
    assert _WRITES_DERIVED.search("    profile.channels_mask = bitmask(data, CHANNELS)")
    assert not _WRITES_DERIVED.search('                "county_code": m.county_code,')


def test_derived_columns() -> None:
    got = derived_columns(region_code="321322115", channels=["douyin", "taobao"], resources=["logistics"])
    assert got == {
        "county_code": "321322",
        "channels_mask": (1 << CHANNELS.index("douyin")) | (1 << CHANNELS.index("taobao")),
        "resources_mask": 1 << RESOURCE_TYPES.index("logistics"),
    }
    assert derived_columns() == {}
    assert derived_columns(channels=[]) == {"channels_mask": 0}


def test_the_importer_stores_the_derived_columns() -> None:
    row = RosterRow(
        row_number=2, external_id="E1", credit_code=None, name="n", kind="household", contact_name=None,
        phone="13800000000", region_code="321322115", township_code="321322115",
        products=("flowers.seedlings",), channels=("douyin",), resources_offered=("technology", "logistics"),
    )  # fmt: skip
    values = mentor_values(row, region_code="321322115", source_township="321322115")
    expected = derived_columns(
        region_code="321322115", channels=["douyin"], resources=["technology", "logistics"]
    )
    assert {k: values[k] for k in expected} == expected
