"""Exact pruning: skip the (newcomer, mentor category) tiles whose score bound cannot reach a row's pool.

Mentors are grouped by primary category into tiles, in county order inside each tile, so the masks stay
column ranges. For one newcomer and one tile, the retrieval inner product is at most
- the product part's exact maximum over the tile's distinct category sets (most of the 62 x 62
  category pairs are not compatible at all, so most tiles bound it at 0),
- plus, for every other dimension, the largest q_d * k_d over the tile (sign-aware); the text part is
  also bounded by Cauchy-Schwarz (text vectors are unit vectors),
- plus the largest homogenization penalty (none: it is negative) and the largest distance bonus.
Each row first searches its most promising tile, which gives it a P-th best full score, then only the
tiles whose bound reaches that score. Skipping is exact (matching.exact): a skipped pair scores below
what the row already holds, so the pools are the dense search's, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from itertools import pairwise
from typing import TYPE_CHECKING

import numpy as np
from threadpoolctl import threadpool_limits

from matching.exact import NEG, BandCaps, RowSearch, exclusions_of
from matching.threads import WORKERS, map_parallel
from matching.types import NewcomerTable

if TYPE_CHECKING:
    from matching.candidates import Columns, MentorIndex

TILE_ELEMS = 1 << 22  # floats per tile GEMM (16 MB): more rows than this are searched in chunks
# Tiles per row searched first, to learn a P-th best full score. Warm tiles are multiplied whole and held
# 84% of the multiplied pairs at 3 (100k x 20k); 2 gives a threshold nearly as high for 7% fewer pairs
# and about 9% less CPU in the search (bench/RESULTS.md). 1 is far worse: a narrow best tile often
# holds fewer than P allowed pairs, and without a threshold every tile is searched.
WARM = 2
SAMPLES = 2  # column groups per pool slot whose maxima sample a warm tile
GROUP_WIDTH = 16  # columns per sampled group: wider tiles are sampled, not read whole
# Rows per block: policy.block_rows times this. A block holds no full score row, only its tiles (and its
# warm tiles until they are offered), so it can be larger than the dense search's, for fewer, larger tiles.
BLOCK_FACTOR = 4


@dataclass
class TileCounts:
    """What a pruned search did: the (row, tile) pairs it searched and skipped, the pairs it multiplied
    and the pairs that passed the certificate's floor (the bench reports them against rows x mentors)."""

    rows: int = 0
    row_tiles: int = 0  # rows x tiles: every (row, tile) the search could have multiplied
    warm_tiles: int = 0  # (row, tile) multiplied first, to learn each row's threshold
    later_tiles: int = 0  # (row, tile) multiplied after, because their bound reached the threshold
    warm_pairs: int = 0  # (newcomer, mentor) pairs multiplied in warm tiles
    later_pairs: int = 0
    offered: int = 0  # pairs whose value passed the floor and were scored in full

    def reset(self) -> None:
        """Zero every count."""
        for f in fields(self):
            setattr(self, f.name, 0)

    def merge(self, other: TileCounts) -> None:
        """Add another block's counts to these."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass(frozen=True, eq=False)
class CategoryTiles:
    """The index's mentors in tile order (primary category, then county) and each tile's bound data."""

    perm: np.ndarray  # (M,) tile column -> index position
    inverse: np.ndarray  # (M,) index position -> tile column
    starts: np.ndarray  # (G + 1,) first column of each tile
    keys: np.ndarray  # (M, d) float32 keys in tile order
    columns: Columns  # the masks' arrays in tile order
    product_dims: int  # leading key dims that are the category distribution (0: bound them per dim)
    sets: np.ndarray  # (S, product_dims) float32 distinct category rows, grouped by tile
    set_starts: np.ndarray  # (G,) first set of each tile
    key_max: np.ndarray  # (G, d) float32 per-dim maxima over each tile
    key_min: np.ndarray  # (G, d) float32 per-dim minima
    text: tuple[int, int] | None  # key dims of the text embedding, if found
    text_norm: np.ndarray  # (G,) float32 largest text-vector norm of each tile
    region: np.ndarray  # (M,) int32 cap (the mentor's prefecture) of each tile column
    caps: BandCaps  # caps around each prefecture's mentors: a per-row bound on the band
    counts: TileCounts = field(default_factory=TileCounts)  # what the last search() did

    @classmethod
    def build(cls, index: MentorIndex) -> CategoryTiles:
        """Group the index's mentors by primary category; the layout checks are what keep bounds valid."""
        m = index.size
        group = index.mentors.primary_category[index.order]
        perm = np.argsort(group, kind="stable")  # stable: county order inside a tile
        inverse = np.empty(m, np.int64)
        inverse[perm] = np.arange(m)
        group = group[perm]
        starts = np.flatnonzero(np.concatenate([[True], group[1:] != group[:-1]])) if m else np.zeros(0, int)
        bounds = np.append(starts, m).astype(np.int64)
        keys = np.ascontiguousarray(index.keys[:m][perm])
        cat = index.space.m_cat_norm[index.order][perm]
        product_dims = cat.shape[1] if m and np.array_equal(keys[:, : cat.shape[1]], cat) else 0
        sets, set_starts = tile_sets(cat[:, :product_dims], bounds)
        text = _find_block(keys, index.space.m_text[index.order][perm], product_dims)
        norms = np.linalg.norm(keys[:, text[0] : text[1]], axis=1) if text else np.zeros(m, np.float32)
        reduce = (lambda f, x: f.reduceat(x, starts, axis=0)) if m else (lambda f, x: x[:0])
        region = np.unique(index.prefecture[perm], return_inverse=True)[1].astype(np.int32)
        return cls(
            perm,
            inverse,
            bounds,
            keys,
            index.columns.take(perm),
            product_dims,
            sets,
            set_starts,
            reduce(np.maximum, keys),
            reduce(np.minimum, keys),
            text,
            reduce(np.maximum, norms),
            region,
            BandCaps.build(index.unit64[perm], region),
        )

    def bounds(self, q: np.ndarray, extra: float) -> np.ndarray:
        """(b, G) float32 upper bound of the retrieval value of each query row over each tile, plus extra.

        In float32: each product errs by under 1e-6 relative to the sum of the magnitudes it adds, which
        the margin covers (a bound a little high only searches a tile more).
        """
        c = self.product_dims
        up, down = np.maximum(q[:, c:], 0.0), np.minimum(q[:, c:], 0.0)
        ub = up @ self.key_max[:, c:].T + down @ self.key_min[:, c:].T
        if c:
            ub += np.maximum.reduceat(q[:, :c] @ self.sets.T, self.set_starts, axis=1)
        if self.text is not None:  # min(per-dim bound, Cauchy-Schwarz) for the text block
            t0, t1 = self.text
            per_dim = up[:, t0 - c : t1 - c] @ self.key_max[:, t0:t1].T
            per_dim += down[:, t0 - c : t1 - c] @ self.key_min[:, t0:t1].T
            cs = np.linalg.norm(q[:, t0:t1], axis=1)[:, None] * self.text_norm[None, :]
            ub += np.minimum(cs - per_dim, 0.0)
        margin = 1e-5 * (np.abs(q) @ np.maximum(self.key_max, -self.key_min).T + 1.0)
        return ub + margin + np.float32(extra)

    def search(
        self,
        index: MentorIndex,
        newcomers: NewcomerTable,
        rows: np.ndarray,
        n_text: np.ndarray | None,
        ex_local: np.ndarray,
        ex_cols: np.ndarray,
        pool: int,
        width: int,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(pos, val, complete) per row, as MentorIndex.search_dense, skipping tiles by their bounds."""
        out_pos = np.full((len(rows), pool), -1, dtype=np.int64)
        out_val = np.full((len(rows), pool), NEG, dtype=np.float32)
        complete = np.ones(len(rows), bool)
        step = index.policy.block_rows * BLOCK_FACTOR

        def run(start: int) -> TileCounts:
            blk = rows[start : start + step]
            text = None if n_text is None else n_text[start : start + step]
            counts = TileCounts()
            excluded = exclusions_of(ex_local, ex_cols, start, start + len(blk))
            found = self._search_block(index, newcomers, blk, text, *excluded, pool, width, counts)
            end = start + len(blk)
            out_pos[start:end], out_val[start:end], complete[start:end] = found
            return counts

        starts = range(0, len(rows), step)
        if WORKERS > 1 and len(starts) > 1:
            # Blocks run in parallel threads, so BLAS runs on one: tile products are small, and idle BLAS
            # threads spinning between them burned 4x the CPU of the search itself.
            with threadpool_limits(limits=1, user_api="blas"):
                per_block = map_parallel(run, starts)
        else:
            per_block = [run(s) for s in starts]
        self.counts.reset()
        for counts in per_block:
            self.counts.merge(counts)
        return out_pos, out_val, complete

    def _search_block(
        self,
        index: MentorIndex,
        newcomers: NewcomerTable,
        blk: np.ndarray,
        n_text: np.ndarray | None,
        ex_local: np.ndarray,
        ex_cols: np.ndarray,
        pool: int,
        width: int,
        counts: TileCounts,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One block of rows: each row's WARM most promising tiles first, then every tile that reaches it.

        The warm tiles' column-group maxima give each row a first P-th best full score close to the
        final one, so that few pairs of any tile pass the certificate's floor.
        """
        n_cat = newcomers.dense_categories(blk)
        q = index.space.newcomer_queries(newcomers, blk, index.weights, n_text, n_cat)
        search = RowSearch(index, newcomers, blk, q, pool, width)
        # The bound of a pair's GEMM full score: its real value's bound plus the error margins.
        reach = self.bounds(q, max(index.weights["homogenization"], 0.0) + search.bonus_max)
        reach += 4.0 * search.delta[:, None]
        ex_tile = self.inverse[ex_cols]
        warm_n = min(WARM, reach.shape[1])
        warm = np.argpartition(-reach, warm_n - 1, axis=1)[:, :warm_n] if warm_n < reach.shape[1] else None
        if warm is None:
            warm = np.broadcast_to(np.arange(reach.shape[1]), reach.shape)
        bonus, least = self.caps.bonus(search.unit, search.w_dist)
        top = bonus.max(axis=1)
        samples = np.full((len(blk), warm_n, SAMPLES * pool), NEG, np.float32)
        scored = []
        for g in np.unique(warm):
            r, slot = np.nonzero(warm == g)
            lo = int(self.starts[g])
            counts.warm_tiles += len(r)
            counts.warm_pairs += len(r) * int(self.starts[g + 1] - lo)
            for rc, s in self._scores(index, search, n_cat, ex_local, ex_tile, r, int(g)):
                scored.append((rc, int(g), s))
                # Column-group maxima are distinct pairs: the P-th best of lower bounds of their full
                # scores is a lower bound of the row's P-th best. Without a distance cap every unmasked
                # pair is allowed and the caps' least band bounds it; with one, each is checked exactly.
                cols, vals = _group_maxima(s, SAMPLES * pool)
                if search.cap_cos is None:
                    full = vals + np.take_along_axis(least[rc], self.region[lo + cols], 1)
                else:
                    i, j = np.nonzero(np.isfinite(vals))
                    full = np.full(vals.shape, NEG, np.float32)
                    full[i, j] = search.full_scores(rc[i], self.perm[lo + cols[i, j]], vals[i, j])
                samples[rc, slot[np.searchsorted(r, rc)], : full.shape[1]] = full
        flat = samples.reshape(len(blk), -1)
        tau = -np.partition(-flat, pool - 1, axis=1)[:, pool - 1].astype(np.float64)
        for rc, g, s in scored:
            counts.offered += self._offer(search, s, rc, g, tau[rc], bonus, top, defer=True)
        search.flush()
        is_warm = np.zeros(reach.shape, bool)
        np.put_along_axis(is_warm, warm, True, axis=1)
        tau = search.state.threshold()  # near the final one: the rest is merged at the end
        for g in np.argsort(-reach.max(axis=0), kind="stable"):
            r = np.flatnonzero((reach[:, g] >= tau) & ~is_warm[:, g])
            if len(r):
                counts.later_tiles += len(r)
                counts.later_pairs += len(r) * int(self.starts[g + 1] - self.starts[g])
                for rc, s in self._scores(index, search, n_cat, ex_local, ex_tile, r, int(g)):
                    counts.offered += self._offer(search, s, rc, int(g), None, bonus, top, defer=True)
        counts.rows += len(blk)
        counts.row_tiles += reach.size
        return search.finish()

    def _scores(
        self,
        index: MentorIndex,
        search: RowSearch,
        n_cat: np.ndarray,
        ex_local: np.ndarray,
        ex_tile: np.ndarray,
        r: np.ndarray,
        g: int,
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Masked retrieval values of rows r (ascending, local to the block) on tile g, in row chunks."""
        lo, hi = int(self.starts[g]), int(self.starts[g + 1])
        cols = self.columns.slice(lo, hi)
        chunk = max(1, TILE_ELEMS // (hi - lo))
        out = []
        for c0 in range(0, len(r), chunk):
            rc = r[c0 : c0 + chunk]
            s = search.q[rc] @ self.keys[lo:hi].T
            ex_l, ex_c = ex_local[:0], ex_tile[:0]
            if len(ex_local):
                local = np.full(len(search.rows), -1, np.int64)
                local[rc] = np.arange(len(rc))
                sel = (ex_tile >= lo) & (ex_tile < hi) & (local[ex_local] >= 0)
                ex_l, ex_c = local[ex_local[sel]], ex_tile[sel] - lo
            index.mask_block(s, search.newcomers, search.rows[rc], ex_l, ex_c, n_cat[rc], cols)
            out.append((rc, s))
        return out

    def _offer(
        self,
        search: RowSearch,
        s: np.ndarray,
        rc: np.ndarray,
        g: int,
        tau: np.ndarray | None,
        bonus: np.ndarray,
        top: np.ndarray,
        *,
        defer: bool = False,
    ) -> int:
        """Offer the pairs of one tile whose value passes its row's floor, given the band's bound there;
        returns how many.

        bonus: (b, R) the most the band adds per row and prefecture cap; top: (b,) its row maxima.
        """
        lo = int(self.starts[g])
        floor = search.floor(rc, tau, bonus=0.0)
        # The floor of a pair is its row's, less the most the band can add from its mentor's prefecture:
        # first the row's largest bonus anywhere (one pass), then each survivor's own.
        rr, cc = np.nonzero(s >= (floor - top[rc])[:, None])
        value = s[rr, cc]
        ok = value >= floor[rr] - bonus[rc[rr], self.region[lo + cc]]
        rr, cc, value = rr[ok], cc[ok], value[ok]
        search.offer(rc[rr], self.perm[lo + cc], value, None if tau is None else tau[rr], defer=defer)
        return len(rr)


def tile_sets(
    cat: np.ndarray, bounds: np.ndarray, mult: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(sets, set_starts): the distinct rows of each tile (columns bounds[g]:bounds[g + 1]) of cat, tile
    after tile, each in the order of its first column; set_starts[g] is tile g's first set.

    The rows are grouped by a 64-bit hash of their bits (mult: its odd multipliers) instead of
    np.unique(axis=0), whose sort of void rows took 0.25 s for 62 tiles of 18k mentors holding 165
    distinct rows. Every row is then checked against its group's first: on a collision the tiles go
    through np.unique (any order would do: the bounds take a maximum over a tile's sets).
    """
    n_tiles, width = len(bounds) - 1, cat.shape[1]
    if len(cat) == 0 or width == 0:
        return np.zeros((n_tiles, width), np.float32), np.arange(n_tiles, dtype=np.int64)
    tile = np.repeat(np.arange(n_tiles), np.diff(bounds))
    if mult is None:
        mult = np.random.default_rng(0).integers(1, 2**62, size=width, dtype=np.uint64) * 2 + 1
    bits = np.ascontiguousarray(cat, dtype=np.float32).view(np.uint32).astype(np.uint64)
    key = (bits * mult).sum(axis=1)  # wraps modulo 2**64, as unsigned integers do
    order = np.lexsort((np.arange(len(cat)), key, tile))
    new = np.ones(len(cat), bool)
    new[1:] = (tile[order][1:] != tile[order][:-1]) | (key[order][1:] != key[order][:-1])
    first = order[new]  # first column of each (tile, hash) group
    rep = np.empty(len(cat), np.int64)
    rep[order] = np.repeat(first, np.diff(np.append(np.flatnonzero(new), len(cat))))
    if not np.array_equal(cat, cat[rep]):  # two distinct rows share a hash
        parts = [np.unique(cat[lo:hi], axis=0) for lo, hi in pairwise(bounds.tolist())]
        starts = np.cumsum([0] + [len(x) for x in parts[:-1]])
        return np.vstack(parts).astype(np.float32), np.asarray(starts, np.int64)
    first = np.sort(first)
    return np.ascontiguousarray(cat[first], dtype=np.float32), np.searchsorted(first, bounds[:-1])


def _group_maxima(s: np.ndarray, p: int) -> tuple[np.ndarray, np.ndarray]:
    """(columns, values) of the maxima of p disjoint column groups per row (all columns if fewer).

    Group t is the first GROUP_WIDTH (at most) columns from t * (w // p): spread over the whole tile
    (mentors are in county order, so over the country), at a cost bounded whatever the tile's width.
    """
    n, w = s.shape
    if w <= p:
        return np.broadcast_to(np.arange(w), (n, w)), s
    stride = w // p
    width = min(stride, GROUP_WIDTH)
    cols = s[:, : p * stride].reshape(n, p, stride)[:, :, :width].argmax(axis=2) + np.arange(p) * stride
    return cols, s.reshape(-1)[(np.arange(n) * w)[:, None] + cols]


def _find_block(keys: np.ndarray, block: np.ndarray, after: int) -> tuple[int, int] | None:
    """(start, end) of the key dims that equal `block` (the text embedding), searched from `after`."""
    width = block.shape[1]
    if width == 0 or len(keys) == 0:
        return None
    for start in range(after, keys.shape[1] - width + 1):
        if np.array_equal(keys[:, start : start + width], block):
            return start, start + width
    return None
