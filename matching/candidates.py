"""Top-k candidate mentors per newcomer under the hard constraints: exact blocked GEMM retrieval.

Mentors are sorted by county code, so the mentors a newcomer may NOT see (same county, prefecture or
province, by policy) are one contiguous column range: masking costs a slice assignment per region run,
not a per-pair comparison. Top-k is exact and reads the score block once: column-group maxima, the k best
groups found the same way one level up, then a partition of only those groups' few hundred entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from itertools import pairwise
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from matching.exact import NEG, SLACK, RowSearch, band_of_cosine, exclusions_of, full_linear
from matching.features import FeatureSpace
from matching.pruning import CategoryTiles
from matching.regions import LEVEL_DIVISOR, cos_of_distance, unit_vectors
from matching.score import Scorer
from matching.threads import WORKERS, map_parallel
from matching.types import MentorTable, NewcomerTable, Policy

# The distance cap's mask on float32 cosines is this much wider than the cap: float32 rounding (about
# 1e-7 here) must not drop a pair that the exact float64 check keeps.
CAP_SLACK = 1e-5
# The pruned search runs (with policy.prune) from this many mentors and query rows: below, its per-tile
# work costs more than multiplying everything (at 2,000 mentors it took 1.8x the dense search).
PRUNE_MIN_MENTORS = 8192
PRUNE_MIN_ROWS = 256
# Masks and top-k of a score block run on WORKERS row slices in parallel threads (matching.threads).
# Each slice's result is exactly what the whole block gives.
SPLIT_MIN_ROWS = 256  # smaller blocks (recommend()) stay on the calling thread


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


def _overlaps(codes: np.ndarray, columns: np.ndarray) -> list[tuple[int, int, int, int]]:
    """(row start, row end, column start, column end) of each run of equal row codes that has columns of
    the same code (columns sorted); runs without any are left out, which is most of them in a tile."""
    if len(codes) == 0 or len(columns) == 0:
        return []
    starts = np.flatnonzero(np.concatenate([[True], codes[1:] != codes[:-1]]))
    ends = np.append(starts[1:], len(codes))
    values = codes[starts]
    lo = np.searchsorted(columns, values, "left")
    hi = np.searchsorted(columns, values, "right")
    hit = hi > lo
    runs = (starts[hit], ends[hit], lo[hit], hi[hit])
    return list(zip(*(x.tolist() for x in runs), strict=True))


@dataclass(frozen=True, eq=False)
class Columns:
    """The mentor-side arrays the masks read, in one column order (county order, or category tiles)."""

    level: np.ndarray  # region code at the separation level
    prefecture: np.ndarray
    cat_bits: np.ndarray | None  # uint64 category bit sets (None over 64 categories)
    cat_bin: np.ndarray  # (M, C) 0/1
    unit: np.ndarray  # (M, 3) float32 unit vectors

    def take(self, cols: np.ndarray) -> Columns:
        """The same arrays in another column order."""
        bits = None if self.cat_bits is None else self.cat_bits[cols]
        return Columns(self.level[cols], self.prefecture[cols], bits, self.cat_bin[cols], self.unit[cols])

    def slice(self, lo: int, hi: int) -> Columns:
        """Columns lo:hi (views)."""
        bits = None if self.cat_bits is None else self.cat_bits[lo:hi]
        return Columns(self.level[lo:hi], self.prefecture[lo:hi], bits, self.cat_bin[lo:hi], self.unit[lo:hi])


class MentorIndex:
    """Mentors with capacity left, sorted by county, embedded once; answers top-k queries."""

    def __init__(
        self, mentors: MentorTable, policy: Policy, space: FeatureSpace, scorer: Scorer, reranker: Any = None
    ) -> None:
        self.mentors, self.policy, self.space, self.scorer = mentors, policy, space, scorer
        # Retrieval always uses the default weights; a learned model only re-orders the pool.
        self.reranker = reranker
        self.pool = policy.pool_for(reranker is not None, policy.pairing != "any")
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
        self.key_abs_max = np.abs(keys).max(axis=0) if m else np.zeros(keys.shape[1], np.float32)
        self.level = mentors.level_codes(policy.separation)[self.order]
        self.prefecture = mentors.level_codes("prefecture")[self.order]
        self.cat_bin = space.m_cat_bin[self.order]
        self.cat_bits = category_bits(self.cat_bin)
        self.unit = unit_vectors(mentors.lat[self.order], mentors.lon[self.order])
        self.unit64 = unit_vectors(mentors.lat[self.order], mentors.lon[self.order], np.float64)
        # (3, M): pairs gather each coordinate from a contiguous row, several times faster than (pairs, 3)
        # row gathers; matching.exact.arc_cosines adds the same products in the same order.
        self.unit_axes = np.ascontiguousarray(self.unit64.T)
        self.columns = Columns(self.level, self.prefecture, self.cat_bits, self.cat_bin, self.unit)
        self.tiles = CategoryTiles.build(self)
        self.ann = None  # built lazily by matching.ann when policy.index asks for it
        self._nearest: cKDTree | None = None

    def nearest_tree(self) -> cKDTree:
        """A k-d tree of the mentors' float64 unit vectors (index positions), built on first use."""
        if self._nearest is None:
            self._nearest = cKDTree(self.unit64[: self.size])
        return self._nearest

    def mask_block(
        self,
        s: np.ndarray,
        newcomers: NewcomerTable,
        rows: np.ndarray,
        ex_local: np.ndarray,
        ex_cols: np.ndarray,
        n_cat: np.ndarray | None = None,
        cols: Columns | None = None,
    ) -> None:
        """Apply hard constraints and the homogenization penalty to a score block, in place.

        cols: the block's columns (default: the whole index in county order, s may be wider: padding).
        Within them, mentors are sorted by county, so a region is one column range. The distance cap is
        applied a little wide: RowSearch decides it exactly on float64 cosines.
        """
        pol = self.policy
        cols = self.columns if cols is None else cols
        width = len(cols.level)
        s[:, width:] = NEG
        county = newcomers.county[rows]  # codes of these rows only: a tile has few of a million rows
        for r0, r1, lo, hi in _overlaps(county // LEVEL_DIVISOR[pol.separation], cols.level):
            s[r0:r1, lo:hi] = NEG
        near_by = _overlaps(county // LEVEL_DIVISOR["prefecture"], cols.prefecture)
        if pol.separation == "county" and near_by:
            # Same prefecture, different county: an identical product competes in the mentor's own market.
            w = self.weights["homogenization"]
            n_cat = newcomers.dense_categories(rows) if n_cat is None else n_cat
            n_bits = category_bits(n_cat) if cols.cat_bits is not None else None
            for r0, r1, lo, hi in near_by:
                if n_bits is not None:  # bitwise AND instead of a small BLAS call per prefecture
                    identical = (n_bits[r0:r1, None] & cols.cat_bits[None, lo:hi]) != 0
                else:
                    identical = (n_cat[r0:r1] @ cols.cat_bin[lo:hi].T) > 0
                sub = s[r0:r1, lo:hi]
                if pol.same_product_same_prefecture == "exclude":
                    sub[identical] = NEG
                else:
                    sub[identical] += np.float32(w)
        if pol.max_distance_km is not None:
            near = unit_vectors(newcomers.lat[rows], newcomers.lon[rows]) @ cols.unit.T
            s[:, :width][near < cos_of_distance(pol.max_distance_km) - CAP_SLACK] = NEG
        if len(ex_local):
            s[ex_local, ex_cols] = NEG

    def pair_penalty(self, newcomers: NewcomerTable, rows: np.ndarray, position: np.ndarray) -> np.ndarray:
        """float32 homogenization penalty of pairs (newcomer row, index position): mask_block's rule."""
        out = np.zeros(len(rows), np.float32)
        if self.policy.separation != "county" or len(rows) == 0:
            return out
        same = self.prefecture[position] == newcomers.county[rows] // LEVEL_DIVISOR["prefecture"]
        n_cat = newcomers.dense_categories(rows[same])
        if self.cat_bits is not None:
            identical = (category_bits(n_cat) & self.cat_bits[position[same]]) != 0
        else:
            identical = np.einsum("ij,ij->i", n_cat, self.cat_bin[position[same]]) > 0
        out[np.flatnonzero(same)[identical]] = np.float32(self.weights["homogenization"])
        return out

    def pool_bands(self, newcomers: NewcomerTable, rows: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """(n, w) float32 distance band score of each pooled pair (newcomer rows[i], index position
        pos[i, j]; any value where pos < 0), from float64 cosines.

        The bits are arc_cosines' (the same three products, added in the same order), but each newcomer's
        unit vector is broadcast over its pool instead of gathered once per pair; rows go in chunks, so
        the float64 temporaries stay small.
        """
        out = np.empty(pos.shape, np.float32)
        if pos.size == 0:
            return out
        axes = self.unit_axes
        step = max(1, (1 << 18) // pos.shape[1])
        for start in range(0, len(rows), step):
            blk, p = rows[start : start + step], np.maximum(pos[start : start + step], 0)
            u = unit_vectors(newcomers.lat[blk], newcomers.lon[blk], np.float64)
            cos = u[:, 0, None] * axes[0][p] + u[:, 1, None] * axes[1][p] + u[:, 2, None] * axes[2][p]
            out[start : start + step] = band_of_cosine(cos)
        return out

    def prunes(self, n_rows: int) -> bool:
        """Whether a search of n_rows skips tiles by default: tiles pay off on large searches, and
        small ones (recommend()) multiply everything. The pools are the same either way."""
        return self.policy.prune and self.size >= PRUNE_MIN_MENTORS and n_rows >= PRUNE_MIN_ROWS

    def retrieve_exact(
        self,
        newcomers: NewcomerTable,
        rows: np.ndarray,
        n_text: np.ndarray | None,
        ex_local: np.ndarray,
        ex_cols: np.ndarray,
        *,
        prune: bool | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each row's exact top-pool under the full score: index positions (-1 = none), retrieval values.

        Rows are sorted by county; ex_local/ex_cols: excluded pairs as (position in rows, index
        position), sorted by ex_local. A row's pool is its `pool` best mentors by full score (retrieval
        value plus distance band), ties by mentor id, whatever the batch: see matching.exact. The
        search skips category tiles by a bound (prune; default: policy.prune on a large enough search)
        or multiplies everything;
        a row whose certificate does not hold (near-ties beyond the room kept) is searched again, densely,
        with 4x the room.
        """
        pool = min(self.pool, max(self.size, 1))
        out_pos = np.full((len(rows), pool), -1, dtype=np.int64)
        out_val = np.full((len(rows), pool), NEG, dtype=np.float32)
        if self.size == 0 or len(rows) == 0:
            return out_pos, out_val
        todo, width = np.arange(len(rows)), pool + SLACK
        if prune is None:
            prune = self.prunes(len(rows))
        search = partial(self.tiles.search, self) if prune else self.search_dense
        while len(todo):
            local = np.full(len(rows), -1, np.int64)
            local[todo] = np.arange(len(todo))
            keep = local[ex_local] >= 0
            pos, val, complete = search(
                newcomers,
                rows[todo],
                None if n_text is None else n_text[todo],
                local[ex_local[keep]],
                ex_cols[keep],
                pool,
                width,
            )
            out_pos[todo[complete]], out_val[todo[complete]] = pos[complete], val[complete]
            todo, width, search = todo[~complete], width * 4, self.search_dense
        return out_pos, out_val

    def search_dense(
        self,
        newcomers: NewcomerTable,
        rows: np.ndarray,
        n_text: np.ndarray | None,
        ex_local: np.ndarray,
        ex_cols: np.ndarray,
        pool: int,
        width: int,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Multiply every row by every mentor: (pos, val, complete) per row (the reference search)."""
        out_pos = np.full((len(rows), pool), -1, dtype=np.int64)
        out_val = np.full((len(rows), pool), NEG, dtype=np.float32)
        complete = np.ones(len(rows), bool)
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
            excluded = exclusions_of(ex_local, ex_cols, start, start + len(blk))
            args = (s, newcomers, blk, q, n_cat, *excluded, pool, width)
            outs = (out_pos[start : start + len(blk)], out_val[start : start + len(blk)])
            sliced = partial(self._dense_slice, *args, *outs, complete[start : start + len(blk)])
            map_parallel(lambda cut, run=sliced: run(*cut), list(pairwise(cuts)))
        return out_pos, out_val, complete

    def _dense_slice(
        self,
        s: np.ndarray,
        newcomers: NewcomerTable,
        blk: np.ndarray,
        q: np.ndarray,
        n_cat: np.ndarray,
        ex_local: np.ndarray,
        ex_cols: np.ndarray,
        pool: int,
        width: int,
        out_pos: np.ndarray,
        out_val: np.ndarray,
        complete: np.ndarray,
        r0: int,
        r1: int,
    ) -> None:
        """Mask rows r0:r1 of a score block and search them exactly (ex_local relative to the block)."""
        sub = s[r0:r1]
        self.mask_block(sub, newcomers, blk[r0:r1], *exclusions_of(ex_local, ex_cols, r0, r1), n_cat[r0:r1])
        search = RowSearch(self, newcomers, blk[r0:r1], q[r0:r1], pool, width)
        # The exact top `pool` by retrieval value gives each row a first P-th best full score ...
        pos, val = topk_rows(sub, pool, self.groups)
        local = np.arange(r1 - r0)
        tau = search.warm(local, pos, val)
        # ... and every pair whose value passes the certificate's floor is scored in full.
        r, c = np.nonzero(sub[:, : self.size] >= search.floor(local, tau)[:, None])
        search.offer(r, c, sub[r, c], tau[r])
        out_pos[r0:r1], out_val[r0:r1], complete[r0:r1] = search.finish()

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
            band = self.pool_bands(newcomers, rows, pos)[r, c]
            scores[r, c] = self.scorer.from_linear(full_linear(val[r, c], band, self.weights["distance"]))
        # Deterministic order: by score, then by mentor id among equal scores.
        ids = np.where(valid, self.mentors.ids[np.maximum(mentor_rows, 0)], np.iinfo(np.int64).max)
        if in_pool_order(scores, ids):  # an exact pool comes sorted so (matching.exact.select_pool)
            return Candidates(rows, mentor_rows[:, :k], scores[:, :k])
        by_id = np.argsort(ids, axis=1, kind="stable")
        scores, mentor_rows = np.take_along_axis(scores, by_id, 1), np.take_along_axis(mentor_rows, by_id, 1)
        by_score = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return Candidates(
            rows, np.take_along_axis(mentor_rows, by_score, 1), np.take_along_axis(scores, by_score, 1)
        )


def in_pool_order(scores: np.ndarray, ids: np.ndarray) -> bool:
    """Every row already sorted by score (descending), then id: the two stable sorts would not move it."""
    a, b = scores[:, :-1], scores[:, 1:]
    return bool(np.all((a > b) | ((a == b) & (ids[:, :-1] <= ids[:, 1:]))))


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
