"""Brute-force reference for the exact search: every allowed pair scored in full, sorted, no pruning.

It shares only the definition of a pair's canonical score with the code under test (matching.exact:
float64 dot of the query and key rows, float64 arc cosine for the band); the masks, the penalty and
the selection are written out again pair by pair here.
"""

from __future__ import annotations

import numpy as np

from matching.candidates import MentorIndex
from matching.exact import arc_cosines, band_of_cosine, exact_values, full_linear
from matching.regions import cos_of_distance, unit_vectors
from matching.types import NewcomerTable


def brute_force_pools(
    index: MentorIndex,
    newcomers: NewcomerTable,
    exclude_pairs: np.ndarray | None = None,
    k: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(newcomer rows, (n, k) mentor rows, (n, k) scores) of the best k pairs by full score, ties by id."""
    policy, w = index.policy, index.weights
    k = k or min(index.pool, max(index.size, 1))
    eligible = np.flatnonzero(~newcomers.has_active_mentor)
    rows = eligible[np.argsort(newcomers.county[eligible], kind="stable")]
    text = index.space.newcomer_text(newcomers, rows) if index.space.text is not None else None
    q = index.space.newcomer_queries(newcomers, rows, index.weights, text)
    m_rows = index.order
    mentors = index.mentors
    excluded = {(int(a), int(b)) for a, b in (exclude_pairs if exclude_pairs is not None else [])}
    divisor = {"county": 1, "prefecture": 100, "province": 10000}[policy.separation]
    out_m = np.full((len(rows), k), -1, np.int64)
    out_s = np.full((len(rows), k), -np.inf, np.float32)
    m_cat = mentors.categories[m_rows].toarray() > 0
    for i, r in enumerate(rows):
        allowed = mentors.county[m_rows] // divisor != newcomers.county[r] // divisor
        same_pref = mentors.county[m_rows] // 100 == newcomers.county[r] // 100
        identical = (m_cat & (newcomers.categories[r].toarray() > 0)).any(axis=1)
        homogenized = same_pref & identical & (policy.separation == "county")
        if policy.same_product_same_prefecture == "exclude":
            allowed &= ~homogenized
        penalty = np.where(homogenized, np.float32(w["homogenization"]), np.float32(0.0)).astype(np.float32)
        u = unit_vectors(newcomers.lat[[r]], newcomers.lon[[r]], np.float64)
        cos = arc_cosines(np.repeat(u, len(m_rows), 0), index.unit64)
        if policy.max_distance_km is not None:
            allowed &= cos >= cos_of_distance(policy.max_distance_km)
        nid = int(newcomers.ids[r])
        allowed &= np.array([(nid, int(mid)) not in excluded for mid in mentors.ids[m_rows]], bool)
        value = exact_values(np.repeat(q[[i]], len(m_rows), 0), index.keys[: index.size], penalty)
        score = index.scorer.from_linear(full_linear(value, band_of_cosine(cos), w["distance"]))
        ok = np.flatnonzero(allowed)
        best = ok[np.lexsort((mentors.ids[m_rows[ok]], -score[ok].astype(np.float64)))][:k]
        out_m[i, : len(best)] = m_rows[best]
        out_s[i, : len(best)] = score[best]
    return rows, out_m, out_s
