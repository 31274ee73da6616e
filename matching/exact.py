"""Exact pools under the full score: canonical pair values, the per-row search state, the certificate.

The full score of a pair is its retrieval value (the bilinear inner product plus the homogenization
penalty) plus the distance band, which is not bilinear. A search (dense or pruned, matching.candidates
and matching.pruning) meets pairs through float32 GEMM tiles, whose last bits depend on the BLAS kernel
and the tile's shape, so:

- every pair that can still reach a row's pool is kept with its full score from the GEMM value and the
  exact band (`PoolState`); the search may drop a pair only when a bound proves it cannot get there:
  its retrieval value plus the largest distance bonus, or its tile's bound, is below the row's P-th best
  full score found so far, less twice `error_bound` (the certificate);
- the kept pairs are scored again in float64 (`exact_values`), which gives the same bits whatever
  batch, tile or kernel found them, and a row's pool is its `pool` best pairs by that score, ties by
  mentor id (`select_pool`).

So the dense and the pruned search return the same pools, bit for bit, and both equal a brute force.
"""

from __future__ import annotations

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
    """float32 canonical retrieval values: float64 dots of paired query and key rows, plus the penalty.

    q: (n, d) with keys (n, d), or (n, d) with keys (n, w, d) and penalty (n, w): each row against w keys.
    """
    spec = "ij,ij->i" if keys.ndim == 2 else "id,iwd->iw"
    return np.einsum(spec, q, keys, dtype=np.float64).astype(np.float32) + penalty


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
        """Merge pairs (r ascending, finite full scores) into their rows' best `width`."""
        if len(r) == 0:
            return
        starts = np.flatnonzero(np.concatenate([[True], r[1:] != r[:-1]]))
        counts = np.diff(np.append(starts, len(r)))
        rows = r[starts]
        w = self.width
        width = w + int(counts.max())
        slot = (np.arange(len(r)) - np.repeat(starts, counts)) + w
        owner = np.repeat(np.arange(len(rows)), counts)
        f = np.full((len(rows), width), NEG, np.float32)
        v = np.full((len(rows), width), NEG, np.float32)
        p = np.full((len(rows), width), -1, np.int64)
        f[:, :w], v[:, :w], p[:, :w] = self.full[rows], self.value[rows], self.position[rows]
        f[owner, slot], v[owner, slot], p[owner, slot] = full, value, position
        if width > 2 * w:  # a wide merge (a row's first tile): partition before sorting
            part = np.argpartition(-f, w, axis=1)[:, : w + 1]
            f, v, p = (np.take_along_axis(a, part, 1) for a in (f, v, p))
        order = np.argsort(-f, axis=1, kind="stable")
        f, v, p = (np.take_along_axis(a, order, 1) for a in (f, v, p))
        if f.shape[1] > w:
            self.dropped[rows] = np.maximum(self.dropped[rows], f[:, w])
        self.full[rows], self.value[rows], self.position[rows] = f[:, :w], v[:, :w], p[:, :w]

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
    row: np.ndarray, position: np.ndarray, value: np.ndarray, full: np.ndarray, ids: np.ndarray, shape: tuple
) -> tuple[np.ndarray, np.ndarray]:
    """(n, pool) positions (-1 = none) and values of each row's best pairs by full score, ties by id."""
    out_pos = np.full(shape, -1, np.int64)
    out_val = np.full(shape, NEG, np.float32)
    if len(row) == 0:
        return out_pos, out_val
    order = np.lexsort((ids, -full.astype(np.float64), row))
    row, position, value = row[order], position[order], value[order]
    starts = np.flatnonzero(np.concatenate([[True], row[1:] != row[:-1]]))
    rank = np.arange(len(row)) - np.repeat(starts, np.diff(np.append(starts, len(row))))
    take = rank < shape[1]
    out_pos[row[take], rank[take]] = position[take]
    out_val[row[take], rank[take]] = value[take]
    return out_pos, out_val


class RowSearch:
    """One batch of query rows being searched: their state, error bounds and exact pair scoring.

    Searches offer it the pairs of each tile that pass `floor` (the certificate on retrieval values);
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
        self.state = PoolState(len(rows), pool, width)
        self.w_dist = index.weights["distance"]
        self.bonus_max = bonus_range(self.w_dist)[1]
        cap = index.policy.max_distance_km
        self.cap_cos = None if cap is None else cos_of_distance(cap)

    def full_scores(self, r: np.ndarray, position: np.ndarray, value: np.ndarray) -> np.ndarray:
        """float32 full scores of pairs (local row, index position) from their values; -inf past the cap."""
        cos = arc_cosines(self.unit[r], self.index.unit64[position])
        full = full_linear(value, band_of_cosine(cos), self.w_dist)
        if self.cap_cos is not None:  # the hard distance cap, decided here on float64 cosines
            full[cos < self.cap_cos] = NEG
        return full

    def floor(self, r: np.ndarray, tau: np.ndarray | None = None) -> np.ndarray:
        """(len(r),) float32 least retrieval value of a pair that can still reach each row's pool.

        A pair's full score is at most its value plus the largest distance bonus: below the row's P-th
        best full score met so far (tau, if higher) less 2 * delta, it cannot make the pool.
        """
        best = self.state.threshold()[r] if tau is None else np.maximum(self.state.threshold()[r], tau)
        floor = best - 2.0 * self.delta[r] - self.bonus_max - 2.0**-20 * (1.0 + np.abs(best))
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
        self, r: np.ndarray, position: np.ndarray, value: np.ndarray, tau: np.ndarray | None = None
    ) -> None:
        """Keep the offered pairs (local rows ascending) that can still reach their row's pool."""
        if len(r) == 0:
            return
        full = self.full_scores(r, position, value)
        best = self.state.threshold()[r]
        if tau is not None:
            best = np.maximum(best, tau)
        keep = np.isfinite(full) & (full >= best - 2.0 * self.delta[r])
        self.state.add(r[keep], position[keep], value[keep], full[keep])

    def finish(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(pos, val, complete): exact pools (index positions, canonical values) of the complete rows."""
        index, state = self.index, self.state
        complete, kept = state.settle(self.delta)
        r, j = np.nonzero(kept)
        position = state.position[r, j]
        penalty = np.zeros(kept.shape, np.float32)
        penalty[r, j] = index.pair_penalty(self.newcomers, self.rows[r], position)
        # Row by row against its kept keys (no gather of the query rows); unused slots are dropped.
        value = exact_values(self.q, index.keys[np.maximum(state.position, 0)], penalty)[r, j]
        full = self.full_scores(r, position, value)
        score = index.scorer.from_linear(full)
        ids = index.mentors.ids[index.order[position]]
        pos, val = select_pool(r, position, value, score, ids, (len(self.rows), state.pool))
        return pos, val, complete
