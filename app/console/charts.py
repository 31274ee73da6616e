"""Drawing helpers for the console's inline SVG charts (presentation only: no data rules here)."""

from __future__ import annotations

import math

# Mainland China and Hainan fit in this box; the map is a plain equirectangular projection.
LON_MIN, LON_MAX, LAT_MIN, LAT_MAX = 73.0, 135.0, 18.0, 54.0
WIDTH, HEIGHT = 620, 400


def project(lat: float, lon: float) -> tuple[float, float]:
    """SVG coordinates of a point."""
    x = (lon - LON_MIN) / (LON_MAX - LON_MIN) * WIDTH
    y = (LAT_MAX - lat) / (LAT_MAX - LAT_MIN) * HEIGHT
    return round(x, 1), round(y, 1)


def stroke(count: int, largest: int) -> float:
    """Line width for a flow: by the square root, so small flows stay visible."""
    return round(0.8 + 7 * math.sqrt(count / largest), 2) if largest else 1.0


# The heat of a matrix cell is the brand green over the card's white; its number is written in white
# or in the ink, whichever reads better. Both colours are console.css's (--brand, --ink).
HEAT_RGB = (11, 92, 59)
INK_RGB = (27, 31, 36)
MIN_CONTRAST = 4.5  # WCAG AA for text, as the console promises


def _luminance(rgb: tuple[float, ...]) -> float:
    """WCAG 2 relative luminance of an sRGB colour (0-255 channels)."""

    def linear(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrasts(alpha: float) -> tuple[float, float]:
    """(white text, ink text) contrast on the heat colour of this opacity."""
    background = _luminance(tuple(255 - alpha * (255 - c) for c in HEAT_RGB))
    return 1.05 / (background + 0.05), (background + 0.05) / (_luminance(INK_RGB) + 0.05)


def heat_cell(heat: float) -> tuple[str, bool]:
    """(background opacity, white text?) for a cell of heat 0..1, its number readable at 4.5:1 or better.

    Between the shades where the ink still reads and where white starts to, neither does: a cell whose
    heat falls there is drawn a little darker, so white reads.
    """
    alpha = round(0.95 * min(max(heat, 0.0), 1.0), 2)
    white, ink = _contrasts(alpha)
    while max(white, ink) < MIN_CONTRAST:
        alpha = round(alpha + 0.01, 2)
        white, ink = _contrasts(alpha)
    return f"{alpha:.2f}", white >= ink
