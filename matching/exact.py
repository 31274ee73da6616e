"""Exact pools under the full score: canonical pair values, the per-row search state, the certificate.

The full score of a pair is its retrieval value (the bilinear inner product plus the homogenization
penalty) plus the distance band, which is not bilinear. A search (dense or pruned, matching.candidates
and matching.pruning) meets pairs through float32 GEMM tiles, whose last bits depend on the BLAS kernel
and the tile's shape, so:

- every pair that can still reach a row's pool is kept with its full score from the GEMM value and the
  exact band (`PoolState`); the search may drop a pair only when a bound proves it cannot get there:
  its retrieval value plus the largest distance bonus, or its tile's bound, is below the row's P-th best
  full score found so far, less twice `error_bound` (the certificate);
- the kept pairs are scored again pair by pair (`exact_values`: an einsum, whose sum runs in one
  fixed order for each pair), which gives the same bits whatever batch, tile or kernel found them, and
  a row's pool is its `pool` best pairs by that score, ties by mentor id (`select_pool`).

So the dense and the pruned search return the same pools, bit for bit, and both equal a brute force.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from matching.features import DISTANCE_BAND_SCORES, DISTANCE_BANDS_KM
from matching.regions import EARTH_RADIUS_KM, cos_of_distance, unit_vectors
from matching.types import NewcomerTable

if TYPE_CHECKING:
    from matching.candidates import MentorIndex

NEG = np.float32(-np.inf)
LOWEST = np.float32(np.finfo(np.float32).min)  # a threshold every finite float32 passes
SLACK = 8  # pairs kept per row beyond the pool: room for near-ties before a row must be searched again
# A distance at or past a band edge <=> the arc's cosine at or below the edge's (cos falls on [0, pi]).
_EDGE_COS = np.cos(np.asarray(DISTANCE_BANDS_KM, np.float64) / EARTH_RADIUS_KM)[::-1].copy()  # ascending
_BAND_SCORES = np.asarray(DISTANCE_BAND_SCORES, np.float32)


def arc_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine of the arc between paired float64 unit vectors, term by term (the same bits in any batch)."""
    return a[:, 0] * b[:, 0] + a[:, 1] * b[:, 1] + a[:, 2] * b[:, 2]


def gathered_arc_cosines(a: np.ndarray, i: np.ndarray, b: np.ndarray, j: np.ndarray) -> np.ndarray:
    """arc_cosines(a.T[i], b.T[j]), bit for bit, from (3, n) coordinate rows a and b: each pair gathers
    six scalars from contiguous rows instead of two 3-vectors from (n, 3) arrays."""
    return a[0][i] * b[0][j] + a[1][i] * b[1][j] + a[2][i] * b[2][j]


def band_of_cosine(cos: np.ndarray) -> np.ndarray:
    """float32 distance band score (features.distance_band_score) from float64 arc cosines."""
    # The band is the number of edges at or below the distance: edges whose cosine is >= the pair's.
    return _BAND_SCORES[len(_EDGE_COS) - np.searchsorted(_EDGE_COS, cos, "left")]


def bonus_range(distance_weight: float) -> tuple[float, float]:
    """Least and most the distance band adds to a pair's score."""
    bonus = distance_weight * _BAND_SCORES.astype(np.float64)
    return float(bonus.min()), float(bonus.max())


def full_linear(value: np.ndarray, band: np.ndarray, distance_weight: float) -> np.ndarray:
    """float32 full linear score: retrieval value plus the weighted band, in one fixed order."""
    return value + np.float32(distance_weight) * band


def error_bound(q: np.ndarray, key_abs_max: np.ndarray) -> np.ndarray:
    """(b,) float64 bound on |float32 GEMM value - canonical value| of every pair of each query row.

    A float32 dot product of d terms errs by at most about d * 2**-24 * sum|q_i k_i|; the rest covers
    the float32 additions of the penalty and the band. Doubled for safety: a wider margin only keeps a
    few more pairs.
    """
    d = q.shape[1]
    scale = np.abs(q).astype(np.float64) @ key_abs_max.astype(np.float64)
    return 2.0**-22 * ((d + 4) * scale + 8.0)


def exact_values(q: np.ndarray, keys: np.ndarray, penalty: np.ndarray) -> np.ndarray:
    """float32 canonical retrieval values: dots of paired query and key rows, plus the penalty.

    q: (n, d) with keys (n, d), or (n, d) with keys (n, w, d) and penalty (n, w): each row against w keys.
    NumPy's einsum (not BLAS) sums each pair's products in the same order in any batch (tested).
    """
    spec = "ij,ij->i" if keys.ndim == 2 else "id,iwd->iw"
    return np.einsum(spec, q, keys) + penalty


class PoolState:
    """Per row, the `width` best pairs met so far by full score, and the best one dropped for want of room.

    Rows are local to one search (0..n-1); `position` is the index position of the mentor. Full scores
    here come from GEMM values (within error_bound of canonical ones); values are kept to rescore.
    """

    def __init__(self, n_rows: int, pool: int, width: int) -> None:
        self.pool, self.width = pool, width
        self.full = np.full((n_rows, width), NEG, np.float32)  # each row sorted, best first
        self.value = np.full((n_rows, width), NEG, np.float32)
        self.position = np.full((n_rows, width), -1, np.int64)
        self.dropped = np.full(n_rows, NEG, np.float32)

    def threshold(self) -> np.ndarray:
        """(n,) float64 P-th best full score met so far per row (-inf while fewer): never above the final."""
        return self.full[:, self.pool - 1].astype(np.float64)

    def add(self, r: np.ndarray, position: np.ndarray, value: np.ndarray, full: np.ndarray) -> None:
        """Merge pairs (rows in any order, finite full scores) into their rows' best `width`.

        One sort of the rows' held and new pairs by (row, full score descending), on a float64 key
        that keeps float32 scores apart; ties in score may land either side of the width, which is
        why the best dropped score is kept for the certificate.
        """
        if len(r) == 0:
            return
        w = self.width
        touched = np.zeros(len(self.full), bool)
        touched[r] = True
        rows = np.flatnonzero(touched)
        i, j = np.nonzero(np.isfinite(self.full[rows]))
        r = np.concatenate([rows[i], r])
        f = np.concatenate([self.full[rows[i], j], full])
        v = np.concatenate([self.value[rows[i], j], value])
        p = np.concatenate([self.position[rows[i], j], position])
        top = float(f.max())
        span = top - float(f.min()) + 1.0
        order = np.argsort(r * span + (top - f.astype(np.float64)))
        r, f, v, p = r[order], f[order], v[order], p[order]
        starts = np.flatnonzero(np.concatenate([[True], r[1:] != r[:-1]]))
        rank = np.arange(len(r)) - np.repeat(starts, np.diff(np.append(starts, len(r))))
        over = rank == w
        self.dropped[r[over]] = np.maximum(self.dropped[r[over]], f[over])
        self.full[rows], self.value[rows], self.position[rows] = NEG, NEG, -1
        keep = rank < w
        r, rank = r[keep], rank[keep]
        self.full[r, rank], self.value[r, rank], self.position[r, rank] = f[keep], v[keep], p[keep]

    def settle(self, delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows proven complete, mask of kept pairs that can be in the pool), given error_bound per row.

        A pair outside the pool's reach has a GEMM full score below the P-th one less 2 * delta (it is
        then below it canonically too). A row is complete unless a pair dropped for want of room could
        be within reach: then it is searched again with more room.
        """
        reach = self.threshold() - 2.0 * delta
        kept = np.isfinite(self.full) & (self.full >= reach[:, None])
        complete = ~(np.isfinite(self.dropped) & (self.dropped >= reach))
        return complete, kept


def select_pool(
    position: np.ndarray, value: np.ndarray, score: np.ndarray, ids: np.ndarray, pool: int
) -> tuple[np.ndarray, np.ndarray]:
    """(n, pool) positions (-1 = none) and values of each row's best pairs by score, ties by mentor id.

    All arrays (n, w); score -inf marks an unused slot.
    """
    order = np.lexsort((ids, -score.astype(np.float64)), axis=1)[:, :pool]
    score = np.take_along_axis(score, order, 1)
    used = np.isfinite(score)
    pos = np.where(used, np.take_along_axis(position, order, 1), -1)
    val = np.where(used, np.take_along_axis(value, order, 1), NEG)
    if pos.shape[1] < pool:  # fewer slots than the pool: pad
        pad = pool - pos.shape[1]
        pos = np.pad(pos, ((0, 0), (0, pad)), constant_values=-1)
        val = np.pad(val, ((0, 0), (0, pad)), constant_values=NEG)
    return pos, val


@dataclass(frozen=True, eq=False)
class BandCaps:
    """Spherical caps around groups of mentors (a prefecture's): bounds on each row's band to them.

    A newcomer whose arc to a cap's centre is at least the cap's radius plus a band edge is at least that
    edge away from every mentor in it (the band is at most the next one down); one whose arc plus the
    radius stays under an edge is nearer than it to all of them (the band is at least that one).
    """

    centres: np.ndarray  # (R, 3) float64 unit vectors
    far_cos: np.ndarray  # (R, E) float64: at an arc cosine below it, every member is past edge e
    near_cos: np.ndarray  # (R, E) float64: at one above it, no member is

    @classmethod
    def build(cls, unit: np.ndarray, region: np.ndarray) -> BandCaps:
        """Caps of the mentors (float64 unit vectors) of each region index 0..R-1."""
        n_regions = int(region.max()) + 1 if len(region) else 0
        sums = np.zeros((n_regions, 3))
        np.add.at(sums, region, unit)
        centres = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-300)
        spread = np.arccos(np.clip(np.einsum("ij,ij->i", unit, centres[region]), -1.0, 1.0))
        radius = np.zeros(n_regions)
        np.maximum.at(radius, region, spread)
        radius = radius[:, None] + 1e-9
        edges = np.arccos(_EDGE_COS[::-1])[None, :]  # edge arcs, ascending
        far = radius + edges  # arc to the centre beyond which every member is past the edge
        near = edges - radius  # arc to the centre within which no member is past it
        return cls(
            centres,
            np.where(far < np.pi, np.cos(np.minimum(far, np.pi)), -2.0),
            np.where(near > 0, np.cos(np.maximum(near, 0.0)), 2.0),
        )

    def bonus(self, unit: np.ndarray, distance_weight: float) -> tuple[np.ndarray, np.ndarray]:
        """(b, R) float32 most and least the band adds for each row (float64 unit vectors) and each cap.

        Both are the float32 products full_linear adds, so value + bound brackets the full score.
        """
        shape = (len(unit), len(self.centres))
        low, high = bonus_range(distance_weight)
        if distance_weight < 0:  # a penalty for closeness: no cap bound, the constant range
            return np.full(shape, high, np.float32), np.full(shape, low, np.float32)
        # float32 cosines err by under 1e-6 (unit vectors): the margins keep both bounds on the safe side.
        cos = unit.astype(np.float32) @ self.centres.T.astype(np.float32)
        surely_past = np.zeros(shape, np.uint8)  # edges every member is at or past: the band's floor index
        maybe_past = np.zeros(shape, np.uint8)  # edges some member may be at or past
        for e in range(self.far_cos.shape[1]):
            surely_past += cos <= np.float32(self.far_cos[:, e] - 4e-6)
            maybe_past += cos <= np.float32(self.near_cos[:, e] + 4e-6)
        scores = np.float32(distance_weight) * _BAND_SCORES
        return scores[surely_past], scores[maybe_past]


class RowSearch:
    """One batch of query rows being searched: their state, error bounds and exact pair scoring.

    Searches offer it the pairs of each tile that pass the floor (the certificate on retrieval values);
    `finish` rescores what is kept and proves each row's pool complete or asks for a wider search.
    """

    def __init__(
        self,
        index: MentorIndex,
        newcomers: NewcomerTable,
        rows: np.ndarray,
        q: np.ndarray,
        pool: int,
        width: int,
    ) -> None:
        self.index, self.newcomers, self.rows, self.q = index, newcomers, rows, q
        self.delta = error_bound(q, index.key_abs_max)
        self.unit = unit_vectors(newcomers.lat[rows], newcomers.lon[rows], np.float64)
        self.unit_axes = np.ascontiguousarray(self.unit.T)
        self.state = PoolState(len(rows), pool, width)
        self.w_dist = index.weights["distance"]
        self.bonus_max = bonus_range(self.w_dist)[1]
        cap = index.policy.max_distance_km
        self.cap_cos = None if cap is None else cos_of_distance(cap)
        self._pending: list[tuple[np.ndarray, ...]] = []

    def full_scores(self, r: np.ndarray, position: np.ndarray, value: np.ndarray) -> np.ndarray:
        """float32 full scores of pairs (local row, index position) from their values; -inf past the cap."""
        cos = gathered_arc_cosines(self.unit_axes, r, self.index.unit_axes, position)
        full = full_linear(value, band_of_cosine(cos), self.w_dist)
        if self.cap_cos is not None:  # the hard distance cap, decided here on float64 cosines
            full[cos < self.cap_cos] = NEG
        return full

    def best(self, r: np.ndarray, tau: np.ndarray | None = None) -> np.ndarray:
        """(len(r),) float64 P-th best full score known for each row (from the state, or tau if higher)."""
        best = self.state.threshold()[r]
        return best if tau is None else np.maximum(best, tau)

    def floor(self, r: np.ndarray, tau: np.ndarray | None = None, bonus: float | None = None) -> np.ndarray:
        """(len(r),) float32 least retrieval value of a pair that can still reach each row's pool.

        A pair's full score is at most its value plus the most the band adds (bonus: by default the
        largest bonus of all): below the row's P-th best full score less 2 * delta, it cannot make the
        pool. The margin covers float32 rounding of the floor itself.
        """
        best = self.best(r, tau)
        floor = best - 2.0 * self.delta[r] - 2.0**-20 * (1.0 + np.abs(best))
        floor -= self.bonus_max if bonus is None else bonus
        return np.where(np.isfinite(floor), floor, LOWEST).astype(np.float32)

    def warm(self, r: np.ndarray, position: np.ndarray, value: np.ndarray) -> np.ndarray:
        """(len(r),) lower bound on each row's P-th best full score from P distinct pairs per row.

        position/value: (len(r), P); -inf where a row has fewer than P allowed pairs among them.
        """
        n, p = position.shape
        ok = np.isfinite(value) & (position >= 0)
        full = np.full((n, p), NEG, np.float32)
        i, j = np.nonzero(ok)
        full[i, j] = self.full_scores(r[i], position[i, j], value[i, j])
        return full.min(axis=1).astype(np.float64)

    def offer(
        self,
        r: np.ndarray,
        position: np.ndarray,
        value: np.ndarray,
        tau: np.ndarray | None = None,
        *,
        defer: bool = False,
    ) -> None:
        """Keep the offered pairs (rows local to the search) that can still reach their row's pool.

        defer: hold them until flush() (one merge for many tiles; the rows' thresholds do not move).
        """
        if len(r) == 0:
            return
        full = self.full_scores(r, position, value)
        keep = np.isfinite(full) & (full >= self.best(r, tau) - 2.0 * self.delta[r])
        kept = (r[keep], position[keep], value[keep], full[keep])
        if defer:
            self._pending.append(kept)
        else:
            self.state.add(*kept)

    def flush(self) -> None:
        """Merge the deferred pairs."""
        if self._pending:
            self.state.add(*(np.concatenate(x) for x in zip(*self._pending, strict=True)))
            self._pending = []

    def finish(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(pos, val, complete): exact pools (index positions, canonical values) of the complete rows."""
        self.flush()
        index, state = self.index, self.state
        complete, kept = state.settle(self.delta)
        # Kept pairs are a prefix of each (sorted) row: rescore that many columns, row by row against
        # its kept keys (no gather of the query rows); unused slots are dropped.
        used = int(kept.sum(axis=1).max()) if kept.size else 0
        kept, slots = kept[:, :used], np.maximum(state.position[:, :used], 0)
        r, j = np.nonzero(kept)
        position = slots[r, j]
        penalty = np.zeros(kept.shape, np.float32)
        penalty[r, j] = index.pair_penalty(self.newcomers, self.rows[r], position)
        value = exact_values(self.q, index.keys[slots], penalty)
        score = np.full(kept.shape, NEG, np.float32)
        score[r, j] = index.scorer.from_linear(self.full_scores(r, position, value[r, j]))
        ids = np.where(kept, index.mentors.ids[index.order[slots]], np.iinfo(np.int64).max)
        pos, val = select_pool(slots, value, score, ids, state.pool)
        return pos, val, complete


def exclusions_of(
    ex_local: np.ndarray, ex_cols: np.ndarray, start: int, stop: int
) -> tuple[np.ndarray, np.ndarray]:
    """The excluded pairs of rows start:stop, positions relative to start (ex_local sorted, as
    matching.candidates.exclusion_arrays returns it): what a search over a block of rows takes."""
    lo, hi = np.searchsorted(ex_local, (start, stop))
    return ex_local[lo:hi] - start, ex_cols[lo:hi]
