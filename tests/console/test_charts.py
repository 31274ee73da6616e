"""The flow matrix's numbers stay readable on every shade of heat (the console's 4.5:1 promise)."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

import app.console
from app.console.charts import HEAT_RGB, INK_RGB, MIN_CONTRAST, _contrasts, heat_cell

CSS = (Path(app.console.__file__).parent / "static" / "console.css").read_text(encoding="utf-8")


@given(st.floats(min_value=0.0, max_value=1.0))
def test_every_heat_has_a_text_colour_that_reads(heat):
    alpha, white = heat_cell(heat)
    on_white, on_ink = _contrasts(float(alpha))
    assert (on_white if white else on_ink) >= MIN_CONTRAST


def test_hotter_is_never_lighter():
    shades = [float(heat_cell(h / 100)[0]) for h in range(101)]
    assert shades == sorted(shades) and shades[0] == 0.0 and shades[-1] > 0.9


def test_the_colours_are_the_stylesheets():
    def rgb(hex_: str) -> tuple[int, ...]:
        return tuple(int(hex_[i : i + 2], 16) for i in (1, 3, 5))

    assert rgb(re.search(r"--brand: (#[0-9a-f]{6})", CSS).group(1)) == HEAT_RGB
    assert rgb(re.search(r"--ink: (#[0-9a-f]{6})", CSS).group(1)) == INK_RGB
    assert re.search(r"\.heat \{ background: rgba\(11, 92, 59, var\(--a\)\); \}", CSS)
