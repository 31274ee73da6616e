"""The second stage: re-rank each newcomer's pool, apply the run's pairing mode, explore a little.

Retrieval has already applied every hard rule that masks pairs (separation, distance cap, capacity,
exclusions). What stays hard here: with a learned re-ranker, a same-prefecture identical-product pair
(the copying the domain warns about) is dropped outright, so no learned weight can make it attractive;
the diversity rule and capacities are the assignment's, and exploration keeps them.

"""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

import numpy as np

from matching.candidates import NEG, Candidates, MentorIndex, exclusion_arrays
from matching.regions import unit_vectors
from matching.rerank import column, rerank_features
from matching.types import NewcomerTable

_EMPTY = np.zeros(0, np.int64)
_NO_PAIRS = np.zeros((0, 2), np.int64)


class Reranker(Protocol):
    """What the second stage needs from a learned model."""

    def score(self, features: np.ndarray) -> np.ndarray:
        """Re-ranking score of each pair (higher is better)."""
        ...


def _pairing_mask(index: MentorIndex, feats: np.ndarray, r: np.ndarray, n_rows: int, seed: int) -> np.ndarray:
    """Which pooled pairs the run's pairing mode allows (rows r of the pool, one per pair)."""
    policy = index.policy
    same = feats[:, column("same_product")] > 0
    chain = feats[:, column("chain_link")] > 0
    if policy.pairing == "same_trade":
        return same
    if policy.pairing == "chain":
        return chain
    # mixed: a deterministic chain_share of the newcomers who have a chain partner in their pool get
    # only chain partners; the others only partners that are not chain links (when they have any).
    has_chain = np.bincount(r, weights=chain, minlength=n_rows) > 0
    has_other = np.bincount(r, weights=~chain, minlength=n_rows) > 0
    draw = np.random.default_rng([seed, 29]).random(n_rows)
    # Only newcomers with a chain partner can take one: draw them more often so the run's share is met.
    p = min(1.0, policy.chain_share / max(float(has_chain.mean()), 1e-9))
    wants_chain = has_chain & ((draw < p) | ~has_other)
    return np.where(wants_chain[r], chain, ~chain)


def add_nearest(
    index: MentorIndex,
    newcomers: NewcomerTable,
    pool: Candidates,
    n_near: int,
    ex_local: np.ndarray = _EMPTY,
    ex_cols: np.ndarray = _EMPTY,
) -> Candidates:
    """Widen each pool with the n_near nearest mentors the hard rules allow that it does not hold yet.

    Retrieval ranks by know-how, resources and channels but not by distance, so for fresh produce the
    mentors a coordinator wants (near, with a cold chain) are often outside the pool. The masks are
    retrieval's own (MentorIndex.mask_block: separation, distance cap, exclusions); ex_local/ex_cols
    are the excluded pairs as (position in pool rows, index position), sorted by ex_local.
    """
    rows = pool.newcomer_rows
    if n_near <= 0 or index.size == 0 or len(rows) == 0:
        return pool
    n_near = min(n_near, index.size)
    width = pool.mentor_rows.shape[1]
    mentor_rows = np.full((len(rows), width + n_near), -1, np.int64)
    mentor_rows[:, :width] = pool.mentor_rows
    scores = np.full(mentor_rows.shape, NEG, np.float32)
    scores[:, :width] = pool.scores
    step = index.policy.block_rows
    for start in range(0, len(rows), step):
        blk = rows[start : start + step]
        s = np.full((len(blk), index.keys.shape[0]), NEG, np.float32)
        s[:, : index.size] = unit_vectors(newcomers.lat[blk], newcomers.lon[blk]) @ index.unit.T
        lo, hi = np.searchsorted(ex_local, [start, start + len(blk)])
        index.mask_block(s, newcomers, blk, ex_local[lo:hi] - start, ex_cols[lo:hi])
        held = pool.mentor_rows[start : start + len(blk)]
        r, c = np.nonzero(held >= 0)
        s[r, index.position[held[r, c]]] = NEG
        top = np.argpartition(-s, n_near - 1, axis=1)[:, :n_near]
        ok = np.isfinite(np.take_along_axis(s, top, 1)) & (top < index.size)
        added = np.where(ok, index.order[np.minimum(top, index.size - 1)], -1)
        mentor_rows[start : start + len(blk), width:] = added
        # The default score of an added pair is not known here; the re-ranker scores every pooled pair.
        scores[start : start + len(blk), width:] = np.where(ok, np.float32(0.0), NEG)
    return replace(pool, mentor_rows=mentor_rows, scores=scores)


def second_stage(
    index: MentorIndex,
    newcomers: NewcomerTable,
    pool: Candidates,
    *,
    reranker: Reranker | None,
    k: int,
    seed: int = 0,
    exclude_pairs: np.ndarray = _NO_PAIRS,
) -> Candidates:
    """Order each pool (learned scores, or the default ones); keep k (rerank_k if learned) to assign.

    `exclude_pairs` are (newcomer id, mentor id) pairs that the nearest mentors added to a re-ranked pool
    must respect too, as retrieval did.
    """
    policy = index.policy
    if reranker is not None:
        exclusions = exclusion_arrays(index, newcomers, pool.newcomer_rows, exclude_pairs)
        pool = add_nearest(index, newcomers, pool, policy.rerank_near, *exclusions)
    n_rows = len(pool.newcomer_rows)
    scores = pool.scores.copy()
    mentor_rows = pool.mentor_rows
    if reranker is not None or policy.pairing != "any":
        r, c = np.nonzero(mentor_rows >= 0)
        feats = rerank_features(
            index.space,
            index.mentors,
            newcomers,
            mentor_rows[r, c],
            pool.newcomer_rows[r],
            policy,
            n_text_all=pool.newcomer_text,
        )
        s = scores[r, c] if reranker is None else reranker.score(feats).astype(np.float32)
        if reranker is not None:
            s = np.where(feats[:, column("homogenization")] > 0, NEG, s)
        if policy.pairing != "any":
            s = np.where(_pairing_mask(index, feats, r, n_rows, seed), s, NEG)
        scores[r, c] = s
    ids = np.where(mentor_rows >= 0, index.mentors.ids[np.maximum(mentor_rows, 0)], np.iinfo(np.int64).max)
    order = np.lexsort((ids, -scores), axis=1)
    scores = np.take_along_axis(scores, order, 1)
    mentor_rows = np.where(np.isfinite(scores), np.take_along_axis(mentor_rows, order, 1), -1)
    if reranker is not None:
        k = max(k, policy.rerank_k)
    k = min(k, mentor_rows.shape[1])
    return replace(
        pool, mentor_rows=mentor_rows[:, :k], scores=scores[:, :k], pool_rows=mentor_rows, pool_scores=scores
    )


def explore(index: MentorIndex, cand: Candidates, seed: int = 0) -> Candidates:
    """Give policy.exploration of the newcomers one candidate drawn outside their top choice.

    The draw is uniform over the newcomer's pooled mentors at positions 2..pool (those the run's rules
    allow); its propensity is logged. The assignment gives these rows EXPLORE_BONUS, so about that share
    of the proposals is exploratory; capacity, diversity and every masked rule still hold.
    """
    eps = index.policy.exploration
    n = len(cand.newcomer_rows)
    if eps <= 0 or cand.pool_rows is None or n == 0:
        return replace(
            cand,
            explored=np.zeros(n, bool),
            propensity=np.ones(n, np.float32),
            explored_rank=np.zeros(n, np.int32),
        )
    rng = np.random.default_rng([seed, 31])
    options = np.isfinite(cand.pool_scores[:, 1:]).sum(axis=1)  # pool is sorted: finite ones first
    # When seats are scarce only some newcomers get a proposal; drawing eps x (expected match rate) of
    # them keeps the share of exploratory *proposals* near eps.
    seats = float(index.mentors.capacity_left[index.order].clip(0).sum())
    rate = eps * min(1.0, seats / n)
    explored = (rng.random(n) < rate) & (options >= 1)
    pick = 1 + np.floor(rng.random(n) * np.maximum(options, 1)).astype(np.int64)
    rows = np.flatnonzero(explored)
    mentor_rows, scores = cand.mentor_rows.copy(), cand.scores.copy()
    chosen_m, chosen_s = cand.pool_rows[rows, pick[rows]], cand.pool_scores[rows, pick[rows]]
    mentor_rows[rows], scores[rows] = -1, NEG
    mentor_rows[rows, 0], scores[rows, 0] = chosen_m, chosen_s
    rank = np.zeros(n, np.int32)
    rank[rows] = pick[rows] + 1
    propensity = np.where(explored, rate / np.maximum(options, 1), 1.0 - rate).astype(np.float32)
    return replace(
        cand,
        mentor_rows=mentor_rows,
        scores=scores,
        explored=explored,
        propensity=propensity,
        explored_rank=rank,
    )
