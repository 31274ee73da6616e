"""County reference data (codes, names, coordinates) and geographic helpers."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

EARTH_RADIUS_KM = 6371.0088
_COUNTIES_CSV = Path(__file__).with_name("data") / "counties.csv"

# How many trailing digits a 6-digit county code drops to reach each separation level.
LEVEL_DIVISOR: dict[str, int] = {"county": 1, "prefecture": 100, "province": 10000}


@dataclass(frozen=True, eq=False)
class CountyTable:
    """All mainland counties as parallel arrays, sorted by code."""

    code: np.ndarray  # int32, 6 digits
    name: tuple[str, ...]
    province_name: tuple[str, ...]
    lat: np.ndarray  # float32 degrees
    lon: np.ndarray

    def position(self, codes: np.ndarray) -> np.ndarray:
        """Row of each county code, -1 where unknown."""
        codes = np.asarray(codes, dtype=np.int64)
        pos = np.searchsorted(self.code, codes)
        pos = np.clip(pos, 0, len(self.code) - 1)
        return np.where(self.code[pos] == codes, pos, -1)


@cache
def counties() -> CountyTable:
    """Load matching/data/counties.csv once."""
    with _COUNTIES_CSV.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return CountyTable(
        code=np.array([int(r["code"]) for r in rows], dtype=np.int32),
        name=tuple(r["name"] for r in rows),
        province_name=tuple(r["province_name"] for r in rows),
        lat=np.array([float(r["lat"]) for r in rows], dtype=np.float32),
        lon=np.array([float(r["lon"]) for r in rows], dtype=np.float32),
    )


def unit_vectors(lat: np.ndarray, lon: np.ndarray, dtype: type = np.float32) -> np.ndarray:
    """(n, 3) points on the unit sphere, so that a dot product is the cosine of the arc."""
    la, lo = np.radians(np.asarray(lat, np.float64)), np.radians(np.asarray(lon, np.float64))
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=1).astype(dtype)


def haversine_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Great-circle distance in km, elementwise."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def cos_of_distance(km: float) -> float:
    """Cosine of the central angle of a great-circle distance, for masks on unit-vector dot products."""
    return float(np.cos(min(km / EARTH_RADIUS_KM, np.pi)))
