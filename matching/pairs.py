"""Re-ranking features for callers that have two tables and a list of pairs (e.g. to fit a LearnedRanker)."""

from __future__ import annotations

import numpy as np

from matching.features import FeatureSpace
from matching.rerank import rerank_features
from matching.types import MentorTable, NewcomerTable, Policy


def pair_features(
    mentors: MentorTable,
    newcomers: NewcomerTable,
    mentor_rows: np.ndarray,
    newcomer_rows: np.ndarray,
    *,
    policy: Policy | None = None,
    seed: int = 0,
) -> np.ndarray:
    """RERANK_FEATURE_NAMES features of (mentor row, newcomer row) pairs, e.g. to fit a LearnedRanker."""
    policy = policy or Policy()
    space = FeatureSpace.fit(mentors, policy, seed)
    return rerank_features(space, mentors, newcomers, mentor_rows, newcomer_rows, policy)
