"""Top-k candidate mentors per newcomer under the hard constraints: exact blocked GEMM retrieval.

Mentors are sorted by county code, so the mentors a newcomer may NOT see (same county, prefecture or
province, by policy) are one contiguous column range: masking costs a slice assignment per region run,
not a per-pair comparison. Top-k uses a two-pass selection (column-group maxima, then the k best
groups), exact and about as cheap as one read of the score block.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matching.features import FeatureSpace, distance_band_score
from matching.regions import cos_of_distance, haversine_km, unit_vectors
from matching.score import Scorer
from matching.types import MentorTable, NewcomerTable, Policy

NEG = np.float32(-np.inf)


@dataclass(frozen=True, eq=False)
class Candidates:
    """Ranked candidate mentors of each eligible newcomer."""

    newcomer_rows: np.ndarray  # (n,) rows of the NewcomerTable
    mentor_rows: np.ndarray  # (n, k) rows of the MentorTable, -1 = no candidate
    scores: np.ndarray  # (n, k) float32 ranking scores, -inf where no candidate


def topk_rows(scores: np.ndarray, k: int, groups: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Exact per-row top-k (unordered) of a (b, M) block; M must be a multiple of groups.

    A row's k best entries lie in the k column-groups with the largest maxima (a group holding one
    of them has max >= the k-th value, and at most k groups can), so only k * groups entries are
    partitioned instead of M.
    """
    b, m = scores.shape
    k = min(k, m)
    width = m // groups
    if groups <= 1 or width <= k:
        idx = np.argpartition(scores, m - k, axis=1)[:, m - k :]
        return idx, np.take_along_axis(scores, idx, axis=1)
    # Group g, column j holds original column g * width + j: maxima reduce over a strided axis (SIMD).
    col_max = scores.reshape(b, groups, width).max(axis=1)
    best = np.argpartition(col_max, width - k, axis=1)[:, width - k :]
    cols = (best[:, None, :] + (np.arange(groups) * width)[None, :, None]).reshape(b, -1)
    vals = np.take_along_axis(scores, cols, axis=1)
    part = np.argpartition(vals, vals.shape[1] - k, axis=1)[:, vals.shape[1] - k :]
    return np.take_along_axis(cols, part, axis=1), np.take_along_axis(vals, part, axis=1)


def _runs(codes: np.ndarray) -> list[tuple[int, int, int]]:
    """(start, end, code) of runs of equal values in a sorted array."""
    if len(codes) == 0:
        return []
    cuts = np.flatnonzero(np.diff(codes)) + 1
    starts = np.concatenate([[0], cuts])
    ends = np.concatenate([cuts, [len(codes)]])
    return [(int(s), int(e), int(codes[s])) for s, e in zip(starts, ends, strict=True)]


class MentorIndex:
    """Mentors with capacity left, sorted by county, embedded once; answers top-k queries."""

    def __init__(self, mentors: MentorTable, policy: Policy, space: FeatureSpace, scorer: Scorer) -> None:
        self.mentors, self.policy, self.space, self.scorer = mentors, policy, space, scorer
        self.weights = scorer.linear_weights()
        eligible = np.flatnonzero(mentors.capacity_left > 0)
        self.order = eligible[np.argsort(mentors.county[eligible], kind="stable")]
        self.position = np.full(len(mentors), -1, dtype=np.int64)
        self.position[self.order] = np.arange(len(self.order))
        m = len(self.order)
        self.groups = 16 if m >= 16 * 64 else 1
        padded = -(-m // self.groups) * self.groups if m else 0
        keys = space.mentor_keys(mentors)[self.order]
        self.keys = np.zeros((padded, keys.shape[1]), np.float32)
        self.keys[:m] = keys
        self.size = m
        self.level = mentors.level_codes(policy.separation)[self.order]
        self.prefecture = mentors.level_codes("prefecture")[self.order]
        self.cat_bin = space.m_cat_bin[self.order]
        self.unit = unit_vectors(mentors.lat[self.order], mentors.lon[self.order])
        self.ann = None  # built lazily by matching.ann when policy.index asks for it

    def mask_block(
        self,
        s: np.ndarray,
        newcomers: NewcomerTable,
        rows: np.ndarray,
        ex_local: np.ndarray,
        ex_cols: np.ndarray,
        n_cat: np.ndarray | None = None,
    ) -> None:
        """Apply hard constraints and the homogenization penalty to a (b, M) score block, in place."""
        pol = self.policy
        s[:, self.size :] = NEG
        for r0, r1, code in _runs(newcomers.level_codes(pol.separation)[rows]):
            lo, hi = np.searchsorted(self.level, [code, code + 1])
            s[r0:r1, lo:hi] = NEG
        if pol.separation == "county":
            # Same prefecture, different county: an identical product competes in the mentor's own market.
            w = self.weights["homogenization"]
            n_cat = newcomers.categories[rows].toarray() if n_cat is None else n_cat
            for r0, r1, code in _runs(newcomers.level_codes("prefecture")[rows]):
                lo, hi = np.searchsorted(self.prefecture, [code, code + 1])
                if hi == lo:
                    continue
                identical = (n_cat[r0:r1] @ self.cat_bin[lo:hi].T) > 0
                sub = s[r0:r1, lo:hi]
                if pol.same_product_same_prefecture == "exclude":
                    sub[identical] = NEG
                else:
                    sub[identical] += np.float32(w)
        if pol.max_distance_km is not None:
            near = unit_vectors(newcomers.lat[rows], newcomers.lon[rows]) @ self.unit.T
            s[:, : self.size][near < cos_of_distance(pol.max_distance_km)] = NEG
        if len(ex_local):
            s[ex_local, ex_cols] = NEG

    def retrieve_exact(
        self,
        newcomers: NewcomerTable,
        rows: np.ndarray,
        n_text: np.ndarray | None,
        ex_local: np.ndarray,
        ex_cols: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-pool index positions (-1 = none) and retrieval scores; rows sorted by county.

        ex_local/ex_cols: excluded pairs as (position in rows, index position), sorted by ex_local.
        """
        pool = min(self.policy.pool_size, max(self.size, 1))
        out_pos = np.full((len(rows), pool), -1, dtype=np.int64)
        out_val = np.full((len(rows), pool), NEG, dtype=np.float32)
        if self.size == 0:
            return out_pos, out_val
        step = self.policy.block_rows
        for start in range(0, len(rows), step):
            blk = rows[start : start + step]
            n_cat = newcomers.categories[blk].toarray()
            q = self.space.newcomer_queries(
                newcomers, blk, self.weights, None if n_text is None else n_text[start : start + step], n_cat
            )
            # A lone query is a matrix-vector product: K @ q is several times faster than q @ K.T there.
            s = q @ self.keys.T if len(blk) > 4 else np.ascontiguousarray((self.keys @ q.T).T)
            lo, hi = np.searchsorted(ex_local, [start, start + len(blk)])
            self.mask_block(s, newcomers, blk, ex_local[lo:hi] - start, ex_cols[lo:hi], n_cat)
            pos, val = topk_rows(s, pool, self.groups)
            pos[~np.isfinite(val)] = -1
            out_pos[start : start + len(blk)], out_val[start : start + len(blk)] = pos, val
        return out_pos, out_val

    def rerank(
        self,
        newcomers: NewcomerTable,
        rows: np.ndarray,
        pos: np.ndarray,
        val: np.ndarray,
        k: int | None = None,
    ) -> Candidates:
        """Add the distance band to the retrieval value and keep the k best (ties: mentor id).

        The retrieval value already holds every linear term but distance (and the homogenization
        penalty), so the full score needs only the distance of each pooled pair.
        """
        k = min(k or self.policy.k, pos.shape[1])
        valid = pos >= 0
        mentor_rows = np.where(valid, self.order[np.maximum(pos, 0)] if self.size else -1, -1)
        scores = np.full(pos.shape, NEG, dtype=np.float32)
        r, c = np.nonzero(valid)
        if len(r):
            m, n = mentor_rows[r, c], rows[r]
            km = haversine_km(
                newcomers.lat[n].astype(np.float64),
                newcomers.lon[n].astype(np.float64),
                self.mentors.lat[m].astype(np.float64),
                self.mentors.lon[m].astype(np.float64),
            )
            linear = val[r, c] + self.weights["distance"] * distance_band_score(km)
            scores[r, c] = self.scorer.from_linear(linear)
        # Deterministic order: by score, then by mentor id among equal scores.
        ids = np.where(valid, self.mentors.ids[np.maximum(mentor_rows, 0)], np.iinfo(np.int64).max)
        by_id = np.argsort(ids, axis=1, kind="stable")
        scores, mentor_rows = np.take_along_axis(scores, by_id, 1), np.take_along_axis(mentor_rows, by_id, 1)
        by_score = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return Candidates(
            rows, np.take_along_axis(mentor_rows, by_score, 1), np.take_along_axis(scores, by_score, 1)
        )


def exclusion_arrays(
    index: MentorIndex, newcomers: NewcomerTable, rows: np.ndarray, exclude_pairs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Map (newcomer_id, mentor_id) pairs to (position in rows, index position), sorted."""
    if len(exclude_pairs) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    pairs = np.asarray(exclude_pairs, dtype=np.int64).reshape(-1, 2)
    local_of_row = np.full(len(newcomers), -1, dtype=np.int64)
    local_of_row[rows] = np.arange(len(rows))
    known_n = np.isin(pairs[:, 0], newcomers.ids) & np.isin(pairs[:, 1], index.mentors.ids)
    pairs = pairs[known_n]
    local = local_of_row[newcomers.rows_of(pairs[:, 0])]
    col = index.position[index.mentors.rows_of(pairs[:, 1])]
    keep = (local >= 0) & (col >= 0)
    local, col = local[keep], col[keep]
    order = np.argsort(local, kind="stable")
    return local[order], col[order]
