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
