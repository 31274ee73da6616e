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

from matching.candidates import NEG, Candidates, MentorIndex, category_bits, exclusion_arrays, in_pool_order
from matching.exact import exclusions_of
from matching.regions import LEVEL_DIVISOR, cos_of_distance, unit_vectors
from matching.rerank import column, rerank_features
from matching.types import NewcomerTable

_EMPTY = np.zeros(0, np.int64)
_NO_PAIRS = np.zeros((0, 2), np.int64)
# Nearest mentors asked of the k-d tree beyond n_near at first: room for the ones the rules refuse
# (same county, already pooled) before a row must ask again.
NEAR_SLACK = 20


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
    mentors a coordinator wants (near, with a cold chain) are often outside the pool. Allowed means what
    retrieval allows (separation, distance cap, exclusions) and not a same-prefecture copy of the
    newcomer's product, which the learned stage drops anyway. ex_local/ex_cols are the excluded pairs
    as (position in pool rows, index position), sorted by ex_local.
    """
    rows = pool.newcomer_rows
    if n_near <= 0 or index.size == 0 or len(rows) == 0:
        return pool
    n_near = min(n_near, index.size)
    held = np.where(pool.mentor_rows >= 0, index.position[np.maximum(pool.mentor_rows, 0)], -1)
    added = np.full((len(rows), n_near), -1, np.int64)
    step = index.policy.block_rows
    for start in range(0, len(rows), step):
        stop = min(start + step, len(rows))
        added[start:stop] = _nearest_allowed(
            index,
            newcomers,
            rows[start:stop],
            held[start:stop],
            n_near,
            *exclusions_of(ex_local, ex_cols, start, stop),
        )
    mentor_rows = np.hstack([pool.mentor_rows, np.where(added >= 0, index.order[np.maximum(added, 0)], -1)])
    # The default score of an added pair is not known here; the re-ranker scores every pooled pair.
    scores = np.hstack([pool.scores, np.where(added >= 0, np.float32(0.0), NEG).astype(np.float32)])
    return replace(pool, mentor_rows=mentor_rows, scores=scores)


def _nearest_allowed(
    index: MentorIndex,
    newcomers: NewcomerTable,
    rows: np.ndarray,
    held: np.ndarray,
    n_near: int,
    ex_local: np.ndarray,
    ex_cols: np.ndarray,
) -> np.ndarray:
    """(len(rows), n_near) index positions of each row's nearest allowed mentors not held (-1 = none).

    A k-d tree gives each row its k nearest mentors, nearest first; the rules are checked on those only.
    A row is settled when n_near of them are allowed (they are then its nearest allowed ones: any other
    mentor is at least as far as the k-th), when the k-th is past the distance cap, or when k covers the
    index; other rows ask again with 4x k. The answer depends on the row alone, whatever the batch.
    """
    policy = index.policy
    unit = unit_vectors(newcomers.lat[rows], newcomers.lon[rows], np.float64)
    level = newcomers.county[rows] // LEVEL_DIVISOR[policy.separation]
    prefecture = newcomers.county[rows] // LEVEL_DIVISOR["prefecture"]
    n_cat = newcomers.dense_categories(rows)
    n_bits = category_bits(n_cat) if index.cat_bits is not None else None
    cap = None if policy.max_distance_km is None else cos_of_distance(policy.max_distance_km)
    # Held and excluded pairs as sorted keys (row * size + position): membership is one searchsorted.
    # Rows come in order, so sorting each row's held positions sorts the keys; the stable sort of two
    # sorted runs is a linear merge.
    held = np.sort(held, axis=1)
    r_held, c_held = np.nonzero(held >= 0)
    held_keys = r_held * index.size + held[r_held, c_held]
    taken = np.sort(np.concatenate([held_keys, np.sort(ex_local * index.size + ex_cols)]), kind="stable")
    out = np.full((len(rows), n_near), -1, np.int64)
    todo, k = np.arange(len(rows)), n_near + NEAR_SLACK
    while len(todo):
        k = min(k, index.size)
        _, pos = index.nearest_tree().query(unit[todo], k=k)
        pos = np.asarray(pos, np.int64).reshape(len(todo), k)
        ok = index.level[pos] != level[todo, None]
        if len(taken):
            key = todo[:, None] * index.size + pos
            at = np.minimum(np.searchsorted(taken, key), len(taken) - 1)
            ok &= taken[at] != key
        if policy.separation == "county":  # same prefecture, identical product: the copying rule
            i, j = np.nonzero(ok & (index.prefecture[pos] == prefecture[todo, None]))
            if n_bits is not None:
                same = (n_bits[todo[i]] & index.cat_bits[pos[i, j]]) != 0
            else:
                same = np.einsum("ic,ic->i", n_cat[todo[i]], index.cat_bin[pos[i, j]]) > 0
            ok[i[same], j[same]] = False
        farthest = np.full(len(todo), np.inf)
        if cap is not None:
            cos = np.einsum("id,ikd->ik", unit[todo], index.unit64[pos])
            ok &= cos >= cap
            farthest = cos[:, -1]
        rank = np.cumsum(ok, axis=1)
        settled = (k >= index.size) | (rank[:, -1] >= n_near) | (farthest < (cap or -np.inf))
        i, j = np.nonzero(ok[settled] & (rank[settled] <= n_near))
        out[todo[settled][i], rank[settled][i, j] - 1] = pos[settled][i, j]
        todo, k = todo[~settled], k * 4
    return out


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
    if not in_pool_order(scores, ids):  # the default scores of an exact pool come in this order
        order = np.lexsort((ids, -scores), axis=1)
        scores = np.take_along_axis(scores, order, 1)
        mentor_rows = np.take_along_axis(mentor_rows, order, 1)
    mentor_rows = np.where(np.isfinite(scores), mentor_rows, -1)
    if reranker is not None:
        k = max(k, policy.rerank_k)
    k = min(k, mentor_rows.shape[1])
    return replace(
        pool, mentor_rows=mentor_rows[:, :k], scores=scores[:, :k], pool_rows=mentor_rows, pool_scores=scores
    )


def explore(index: MentorIndex, cand: Candidates, seed: int = 0) -> Candidates:
    """Give policy.exploration of the newcomers one candidate drawn outside their top choice.

    The draw is over the newcomer's pooled mentors at positions 2..pool (those the run's rules allow),
    position j with probability proportional to 1 / (j - 1); its propensity is logged. The assignment
    gives these rows EXPLORE_BONUS, so about that share of the proposals is exploratory; capacity,
    diversity and every masked rule still hold.
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
    # Position j (2..pool) is drawn with probability proportional to 1 / (j - 1): every pooled mentor
    # can be drawn, but rather the near-misses than the tail, which halves what exploring costs in
    # approvals (bench/RESULTS.md). Inverse CDF on the harmonic sums, one uniform per newcomer.
    harmonic = np.cumsum(1.0 / np.arange(1, cand.pool_scores.shape[1] + 1))
    total = harmonic[np.maximum(options, 1) - 1]
    pick = 1 + np.minimum(
        np.searchsorted(harmonic, rng.random(n) * total, "right"), np.maximum(options, 1) - 1
    )
    rows = np.flatnonzero(explored)
    mentor_rows, scores = cand.mentor_rows.copy(), cand.scores.copy()
    chosen_m, chosen_s = cand.pool_rows[rows, pick[rows]], cand.pool_scores[rows, pick[rows]]
    mentor_rows[rows], scores[rows] = -1, NEG
    mentor_rows[rows, 0], scores[rows, 0] = chosen_m, chosen_s
    rank = np.zeros(n, np.int32)
    rank[rows] = pick[rows] + 1
    propensity = np.where(explored, rate / (pick * total), 1.0 - rate).astype(np.float32)
    return replace(
        cand,
        mentor_rows=mentor_rows,
        scores=scores,
        explored=explored,
        propensity=propensity,
        explored_rank=rank,
    )
