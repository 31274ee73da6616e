"""Top-k candidate mentors per newcomer under the hard constraints: exact blocked GEMM retrieval.

Mentors are sorted by county code, so the mentors a newcomer may NOT see (same county, prefecture or
province, by policy) are one contiguous column range: masking costs a slice assignment per region run,
not a per-pair comparison. Top-k is exact and reads the score block once: column-group maxima, the k best
groups found the same way one level up, then a partition of only those groups' few hundred entries.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np

from matching.features import FeatureSpace, distance_band_score
from matching.regions import cos_of_distance, haversine_km, unit_vectors
from matching.score import Scorer
from matching.types import MentorTable, NewcomerTable, Policy

NEG = np.float32(-np.inf)
# Masks and top-k of a score block run on this many row slices in parallel threads (NumPy's reductions,
# partitions and gathers release the GIL). Each slice's result is exactly what the whole block gives.
WORKERS = max(1, min(4, os.cpu_count() or 1))
SPLIT_MIN_ROWS = 256  # smaller blocks (recommend()) stay on the calling thread
_pool: ThreadPoolExecutor | None = None


def _executor() -> ThreadPoolExecutor:
    """The shared worker threads (created on first use, again in a forked child)."""
    global _pool
    if _pool is None or _pool._max_workers < WORKERS:
        _pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="matching-topk")
    return _pool


def _forget_pool() -> None:
    global _pool
    _pool = None  # a forked child has none of the parent's threads


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


@dataclass(frozen=True, eq=False)
class Candidates:
    """Ranked candidate mentors of each eligible newcomer."""

    newcomer_rows: np.ndarray  # (n,) rows of the NewcomerTable
    mentor_rows: np.ndarray  # (n, k) rows of the MentorTable, -1 = no candidate
    scores: np.ndarray  # (n, k) float32 ranking scores, -inf where no candidate
    newcomer_text: np.ndarray | None = None  # (len(newcomers), T) text embedding, reused for the parts
    pool_rows: np.ndarray | None = None  # (n, pool) the whole re-ranked pool, for exploration
    pool_scores: np.ndarray | None = None
    explored: np.ndarray | None = None  # (n,) bool: the one candidate was drawn outside the top choice
    propensity: np.ndarray | None = None  # (n,) float32: probability of this row's candidate list
    explored_rank: np.ndarray | None = None  # (n,) int32: pool position of an explored candidate


def _best_columns(values: np.ndarray, k: int, groups: int) -> np.ndarray:
    """Columns of the k column-groups with the largest maxima, per row of a (b, groups * width) block.

    Group g, column j holds original column g * width + j, so the maxima reduce over a strided axis
    (SIMD). A row's k best entries lie in these groups: a group holding one of them has a maximum >= the
    k-th value, and at most k groups can (ties: any k groups of equal maxima hold equal values).
    """
    b, m = values.shape
    width = m // groups
    col_max = values.reshape(b, groups, width).max(axis=1)
    if width > groups * 2 * k:  # the k best group maxima by the same argument, one level up
        best = _select(col_max, k, groups)[0]
    else:
        best = np.argpartition(col_max, width - k, axis=1)[:, width - k :]
    return (best[:, None, :] + (np.arange(groups, dtype=np.int64) * width)[None, :, None]).reshape(b, -1)


def _select(values: np.ndarray, k: int, groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact per-row top-k (unordered) columns and values of a 2-D block of any width."""
    b, m = values.shape
    head = m - m % groups if m // groups > k else 0
    cols = _best_columns(values[:, :head] if head < m else values, k, groups) if head else None
    if head < m:  # the ragged tail (or the whole row, when it is narrow) joins the candidates as is
        tail = np.broadcast_to(np.arange(head, m, dtype=np.int64), (b, m - head))
        cols = tail if cols is None else np.hstack([cols, tail])
    flat = values.reshape(-1) if values.flags.c_contiguous else np.ascontiguousarray(values).reshape(-1)
    # Flat indexing: much cheaper than take_along_axis's broadcast fancy index.
    vals = flat[(np.arange(b, dtype=np.int64) * m)[:, None] + cols]
    n = cols.shape[1]
    if n > k:
        part = np.argpartition(vals, n - k, axis=1)[:, n - k :] + (np.arange(b, dtype=np.int64) * n)[:, None]
        cols, vals = cols.reshape(-1)[part], vals.reshape(-1)[part]
    return cols, vals


def topk_rows(scores: np.ndarray, k: int, groups: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Exact per-row top-k (unordered) column indices and values of a (b, M) block.

    Two levels of column-group maxima (see _best_columns) shrink the partition to a few hundred
    entries per row; the block itself is read once, by the first level's maximum.
    """
    k = min(k, scores.shape[1])
    if groups <= 1:
        idx = np.argpartition(scores, scores.shape[1] - k, axis=1)[:, scores.shape[1] - k :]
        return idx, np.take_along_axis(scores, idx, axis=1)
    return _select(scores, k, groups)


def category_bits(cat_bin: np.ndarray) -> np.ndarray | None:
    """Each row's 0/1 categories as one uint64 bit set (None if there are more than 64 categories)."""
    if cat_bin.shape[1] > 64:
        return None
    bits = np.left_shift(np.uint64(1), np.arange(cat_bin.shape[1], dtype=np.uint64))
    return np.bitwise_or.reduce(np.where(cat_bin > 0, bits, np.uint64(0)), axis=1)


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

    def __init__(
        self, mentors: MentorTable, policy: Policy, space: FeatureSpace, scorer: Scorer, reranker: Any = None
    ) -> None:
        self.mentors, self.policy, self.space, self.scorer = mentors, policy, space, scorer
        # Retrieval always uses the default weights; a learned model only re-orders the pool.
        self.reranker = reranker
        self.pool = policy.pool_for(reranker is not None or policy.pairing != "any")
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
        self.cat_bits = category_bits(self.cat_bin)
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
            n_cat = newcomers.dense_categories(rows) if n_cat is None else n_cat
            n_bits = category_bits(n_cat) if self.cat_bits is not None else None
            for r0, r1, code in _runs(newcomers.level_codes("prefecture")[rows]):
                lo, hi = np.searchsorted(self.prefecture, [code, code + 1])
                if hi == lo:
                    continue
                if n_bits is not None:  # bitwise AND instead of a small BLAS call per prefecture
                    identical = (n_bits[r0:r1, None] & self.cat_bits[None, lo:hi]) != 0
                else:
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

    def _mask_select(
        self,
        s: np.ndarray,
        newcomers: NewcomerTable,
        blk: np.ndarray,
        n_cat: np.ndarray,
        ex_local: np.ndarray,
        ex_cols: np.ndarray,
        pool: int,
        out_pos: np.ndarray,
        out_val: np.ndarray,
        r0: int,
        r1: int,
    ) -> None:
        """Mask and top-pool of rows r0:r1 of a score block (ex_local relative to the block), in place."""
        lo, hi = np.searchsorted(ex_local, [r0, r1])
        sub = s[r0:r1]
        self.mask_block(sub, newcomers, blk[r0:r1], ex_local[lo:hi] - r0, ex_cols[lo:hi], n_cat[r0:r1])
        pos, val = topk_rows(sub, pool, self.groups)
        pos[~np.isfinite(val)] = -1
        out_pos[r0:r1], out_val[r0:r1] = pos, val

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
        pool = min(self.pool, max(self.size, 1))
        out_pos = np.full((len(rows), pool), -1, dtype=np.int64)
        out_val = np.full((len(rows), pool), NEG, dtype=np.float32)
        if self.size == 0:
            return out_pos, out_val
        step = self.policy.block_rows
        # One score buffer for all blocks: a fresh 100+ MB array per block costs a page fault per 4 KB.
        buf = np.empty((min(step, len(rows)), self.keys.shape[0]), dtype=np.float32)
        for start in range(0, len(rows), step):
            blk = rows[start : start + step]
            n_cat = newcomers.dense_categories(blk)
            q = self.space.newcomer_queries(
                newcomers, blk, self.weights, None if n_text is None else n_text[start : start + step], n_cat
            )
            s = buf[: len(blk)]
            if len(blk) > 4:
                np.matmul(q, self.keys.T, out=s)
            else:
                # A lone query (recommend()) is a matrix-vector product. einsum runs it on this thread:
                # a multi-threaded BLAS call waits for its slowest thread, and on a busy machine that
                # wait (a scheduler slice, several ms) set the p99 latency.
                np.einsum("md,bd->bm", self.keys, q, out=s)
            parts = WORKERS if len(blk) >= SPLIT_MIN_ROWS else 1
            cuts = [len(blk) * i // parts for i in range(parts + 1)]
            lo, hi = np.searchsorted(ex_local, [start, start + len(blk)])
            args = (s, newcomers, blk, n_cat, ex_local[lo:hi] - start, ex_cols[lo:hi], pool)
            outs = (out_pos[start : start + len(blk)], out_val[start : start + len(blk)])
            if parts == 1:
                self._mask_select(*args, *outs, 0, len(blk))
            else:
                jobs = [_executor().submit(self._mask_select, *args, *outs, a, b) for a, b in pairwise(cuts)]
                for job in jobs:
                    job.result()
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
