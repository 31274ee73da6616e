"""The jurisdiction and role rules are written in app/access only: a grep over the rest of app/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "app"
ROLE = r"""["'](?:admin|coordinator|township_office|mentor|newcomer)["']"""

# Each pattern is a hand-written copy of a rule that belongs to the access module.
FORBIDDEN: dict[str, re.Pattern[str]] = {
    # A region prefix test on a region-code column or against a jurisdiction/township/scope.
    "region prefix": re.compile(
        r"(?:region_code|county_code|scope_code|township_code|Region\.code|jurisdiction)\w*\)?\.startswith\("
        r"|\.startswith\([^)]*(?:jurisdiction|township|office|scope)"
    ),
    # Reading the caller's raw jurisdiction means writing a jurisdiction rule by hand.
    "jurisdiction comparison": re.compile(r"\bcaller\.jurisdiction\b|\.jurisdiction\s*(?:==|!=)"),
    # Comparing a role with a string literal, or the caller's role with anything.
    "role literal": re.compile(
        rf"\brole\s*(?:==|!=)\s*{ROLE}|{ROLE}\s*(?:==|!=)\s*\w*\.?role\b"
        rf"|\brole\s+(?:not\s+)?in\s*[(\[{{]\s*{ROLE}"
        r"|\bcaller\.role\s*(?:==|!=|is\b|in\b|not\s+in\b)"
    ),
}


def offences(text: str) -> list[tuple[str, int, str]]:
    """(rule, line number, line) for every forbidden pattern in a source text."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        for name, pattern in FORBIDDEN.items():
            if pattern.search(line):
                found.append((name, number, line.strip()))
    return found


@pytest.mark.parametrize(
    "line",
    [
        'stmt.where(model.region_code.startswith(caller.jurisdiction or "\\x00", autoescape=True))',
        "stmt.where(Match.newcomer_county_code.startswith(region, autoescape=True))",
        "inside = [c for c in candidates if c[0].startswith(office_township)]",
        "if imp.township_code != caller.jurisdiction:",
        'if caller.role == "admin":',
        'elif caller.role in (*kind.keeper_roles, "admin"):',
        'if account.role not in ("admin", "township_office"):',
        "if caller.role is Role.COORDINATOR:",
    ],
)
def test_the_patterns_catch_a_hand_written_rule(line):
    assert offences(line), line


@pytest.mark.parametrize(
    "line",
    [
        "stmt = stmt.where(caller.scope(MatchingRun.scope_code))",
        "if not caller.covers(code):",
        "Region.pinyin.startswith(ascii_q, autoescape=True),",
        'return "\'" + cell if cell.startswith(_FORMULA_START) else cell',
        "stmt = stmt.where(Account.role == role)",
    ],
)
def test_the_patterns_leave_other_code_alone(line):
    assert not offences(line), line


def test_no_rule_is_written_outside_the_access_module():
    found = [
        f"{path.relative_to(APP.parent)}:{number}: {rule}: {line}"
        for path in sorted(APP.rglob("*.py"))
        if "access" not in path.relative_to(APP).parts[:1]
        for rule, number, line in offences(path.read_text(encoding="utf-8"))
    ]
    assert not found, "use app.access (Caller.covers / Caller.scope / the object rules):\n" + "\n".join(found)
