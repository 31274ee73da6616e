"""Cells we write for spreadsheets (error reports, report exports): text that Excel must never evaluate."""

from __future__ import annotations

from typing import Any, Final

# What makes Excel or LibreOffice read a cell as a formula (tab and CR too: they are stripped before = ...).
FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """A text cell that starts like a formula gets a leading apostrophe (CSV injection); others pass."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_START) else value


def restore(value: str) -> str:
    """`neutralise` undone: a roster fixed in errors.csv and uploaded again reads as it was written.

    Only an apostrophe before a formula start is ours; any other leading apostrophe is data.
    """
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_START) else value
