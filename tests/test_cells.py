"""The spreadsheet-cell guard shared by import error reports and report exports (app/cells.py)."""

from __future__ import annotations

import pytest

from app.cells import neutralise


@pytest.mark.parametrize("text", ["=1+1", "+86", "-3", "@SUM(A1)", "\t=cmd", "\r=cmd", '=HYPERLINK("x")'])
def test_text_that_starts_like_a_formula_gets_an_apostrophe(text):
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("value", ["沭阳县", "a=b", "", 3, -3, 0.5, None, True])
def test_everything_else_passes_unchanged(value):
    assert neutralise(value) == value
