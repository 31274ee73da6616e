"""Scoring of pair features: default interpretable weights, or a learned ranker; equity tiers."""

from __future__ import annotations

from dataclasses import asdict
from typing import Protocol

import numpy as np

from matching.features import FEATURE_NAMES
from matching.types import NewcomerTable, Weights

PART_NAMES: tuple[str, ...] = (*FEATURE_NAMES[:8], "equity")
EQUITY_TIERS = 5  # quintiles of county e-commerce penetration


class Scorer(Protocol):
    """What retrieval, re-ranking and assignment need from a scoring model."""

    def score(self, features: np.ndarray) -> np.ndarray:
        """Ranking score of each pair (higher is better)."""
        ...

    def linear_weights(self) -> dict[str, float]:
        """Weight of each feature in the linear part of score, in raw feature units."""
        ...

    def from_linear(self, linear: np.ndarray) -> np.ndarray:
        """Score from sum(linear_weights * features): re-ranking needs no other feature."""
        ...


class WeightedScorer:
    """score = sum of weight * part over the named features (the default, no training needed)."""

    def __init__(self, weights: Weights) -> None:
        self.weights = weights
        w = asdict(weights)
        self._vector = np.array([w.get(name, 0.0) for name in FEATURE_NAMES], dtype=np.float32)

    def score(self, features: np.ndarray) -> np.ndarray:
        """Weighted sum of the parts."""
        return features @ self._vector

    def linear_weights(self) -> dict[str, float]:
        """The weights themselves."""
        return {name: float(v) for name, v in zip(FEATURE_NAMES, self._vector, strict=True)}

    def from_linear(self, linear: np.ndarray) -> np.ndarray:
        """The score is the linear sum itself."""
        return np.asarray(linear, dtype=np.float32)


def equity_tiers(newcomers: NewcomerTable) -> np.ndarray:
    """Per newcomer, the quintile (0 = least served) of its county's e-commerce penetration.

    Counties are ranked once each (mean penetration of their newcomers; unknown -> the median county),
    ties broken by county code, so tiers split the *counties* of the run into five equal groups.
    """
    if len(newcomers) == 0:
        return np.zeros(0, dtype=np.int8)
    codes, inv = np.unique(newcomers.county, return_inverse=True)
    pen = newcomers.penetration.astype(np.float64)
    known = ~np.isnan(pen)
    sums = np.bincount(inv, weights=np.where(known, pen, 0.0), minlength=len(codes))
    counts = np.bincount(inv, weights=known.astype(float), minlength=len(codes))
    county_pen = np.divide(sums, counts, out=np.full(len(codes), np.nan), where=counts > 0)
    fill = np.nanmedian(county_pen) if np.isfinite(county_pen).any() else 0.5
    county_pen = np.where(np.isnan(county_pen), fill, county_pen)
    order = np.lexsort((codes, county_pen))
    rank = np.empty(len(codes), dtype=np.int64)
    rank[order] = np.arange(len(codes))
    tier = (rank * EQUITY_TIERS) // len(codes)
    return tier[inv].astype(np.int8)


def equity_part(tiers: np.ndarray) -> np.ndarray:
    """Equity part in [0, 1]: 1 for the least-served quintile, 0 for the best served."""
    return ((EQUITY_TIERS - 1 - tiers) / (EQUITY_TIERS - 1)).astype(np.float32)
