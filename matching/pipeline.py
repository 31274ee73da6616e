"""propose(): features -> candidates under hard constraints -> min-cost-flow assignment -> ProposalSet."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterable
from dataclasses import replace

import numpy as np

from matching.ann import retrieve_ann
from matching.assign import assign
from matching.candidates import Candidates, MentorIndex, exclusion_arrays
from matching.decompose import Mapper, serial_map
from matching.exact import exclusions_of
from matching.features import FeatureSpace, pair_features
from matching.proposals import ProposalSet, empty_like
from matching.pruning import TileCounts
from matching.score import WeightedScorer, equity_part, equity_tiers
from matching.stages import Reranker, explore, second_stage
from matching.types import MentorTable, NewcomerTable, Policy

# policy.index="auto" runs the exact search up to this many newcomer x mentor pairs and faiss above it.
# The bound was set when the dense search took 341 s at 1M x 100k on the shared 2-core bench machine. The
# pruned search now needs 128 CPU-seconds there (348 s of wall time at load 11; see bench/RESULTS.md). So
# up to this bound an exact run stays within minutes, with recall 1 where faiss IVF reached 0.95.
EXACT_MAX_PAIRS = 1.2e11
# The exact search runs over at most this many newcomers at a time, and a caller's progress hook runs
# between two parts (it may stop the run there). A row's pool depends on that row alone, so the parts
# give the pools one search would (matching.distributed shards rows the same way).
SEARCH_CHUNK_ROWS = 100_000
# A progress hook: (stage, done, total), stage "index" or "candidates", done/total its share done.
StageHook = Callable[[str, int, int], None]
# Added to an explored row's value so the assignment keeps the drawn pair: otherwise capacity competition
# would drop most of them and the exploration share would fall far below policy.exploration.
EXPLORE_BONUS = 1.0


def build_index(
    mentors: MentorTable, policy: Policy, *, ranker: Reranker | None = None, seed: int = 0
) -> MentorIndex:
    """Fit features on the mentors and embed them once; a ranker only re-orders retrieved pools."""
    space = FeatureSpace.fit(mentors, policy, seed)
    return MentorIndex(mentors, policy, space, WeightedScorer(policy.weights), reranker=ranker)


def newcomer_text_all(index: MentorIndex, newcomers: NewcomerTable, rows: np.ndarray) -> np.ndarray | None:
    """(len(newcomers), T) text embedding, filled for the given rows only (None without text)."""
    if index.space.text is None or newcomers.texts is None:
        return None
    out = np.zeros((len(newcomers), index.space.text.dims), np.float32)
    out[rows] = index.space.newcomer_text(newcomers, rows)
    return out


def choose_method(n_newcomers: int, n_mentors: int) -> str:
    """Retrieval for policy.index="auto": exact unless the pairs exceed EXACT_MAX_PAIRS and faiss exists."""
    if n_newcomers * n_mentors <= EXACT_MAX_PAIRS or importlib.util.find_spec("faiss") is None:
        return "exact"
    return "faiss"


def find_candidates(
    index: MentorIndex,
    newcomers: NewcomerTable,
    *,
    exclude_pairs: Iterable[tuple[int, int]] = (),
    seed: int = 0,
    method: str | None = None,
    on_stage: StageHook | None = None,
) -> Candidates:
    """Top-k ranked candidates of every newcomer without an active mentor, under the hard constraints.

    Two stages: the default scorer retrieves a pool per newcomer over the whole mentor table, then the
    learned re-ranker (if any) and the pairing mode order it. method (default policy.index): "exact"
    (the exact pool under the full score; pruned when the search is large enough), "pruned" or "dense"
    (the same pools, by either search), "faiss" (approximate) or "auto".
    """
    pairs = np.asarray(list(exclude_pairs), np.int64).reshape(-1, 2)
    pool = retrieve_pool(index, newcomers, exclude_pairs=pairs, seed=seed, method=method, on_stage=on_stage)
    return second_stage(
        index, newcomers, pool, reranker=index.reranker, k=index.policy.k, seed=seed, exclude_pairs=pairs
    )


def _exact_in_parts(
    index: MentorIndex,
    newcomers: NewcomerTable,
    rows: np.ndarray,
    text_rows: np.ndarray | None,
    ex_local: np.ndarray,
    ex_cols: np.ndarray,
    prune: bool,
    on_stage: StageHook | None,
) -> tuple[np.ndarray, np.ndarray]:
    """The exact pools of rows, SEARCH_CHUNK_ROWS at a time, with on_stage after each part.

    Each part's excluded pairs are one slice of the sorted ex_local (exclusions_of). The pruned search's
    counts (index.tiles.counts, which the bench reports) are those of all the parts.
    """
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    searched = TileCounts()
    for start in range(0, max(len(rows), 1), SEARCH_CHUNK_ROWS):
        stop = min(start + SEARCH_CHUNK_ROWS, len(rows))
        text = None if text_rows is None else text_rows[start:stop]
        excluded = exclusions_of(ex_local, ex_cols, start, stop)
        parts.append(index.retrieve_exact(newcomers, rows[start:stop], text, *excluded, prune=prune))
        if prune:
            searched.merge(index.tiles.counts)
        if on_stage is not None and stop < len(rows):
            on_stage("candidates", stop, len(rows))
    if len(parts) == 1:
        return parts[0]
    if prune:
        index.tiles.counts.reset()
        index.tiles.counts.merge(searched)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def retrieve_pool(
    index: MentorIndex,
    newcomers: NewcomerTable,
    *,
    exclude_pairs: Iterable[tuple[int, int]] = (),
    seed: int = 0,
    method: str | None = None,
    on_stage: StageHook | None = None,
) -> Candidates:
    """The first stage: each eligible newcomer's retrieved pool, ordered by the full default score.

    Each row's pool depends on that row alone, so shards of newcomers give the same rows
    (matching.distributed relies on it).
    """
    eligible = np.flatnonzero(~newcomers.has_active_mentor)
    rows = eligible[np.argsort(newcomers.county[eligible], kind="stable")]
    text_all = newcomer_text_all(index, newcomers, rows)
    text_rows = None if text_all is None else text_all[rows]
    ex_local, ex_cols = exclusion_arrays(index, newcomers, rows, np.asarray(list(exclude_pairs), np.int64))
    method = method or index.policy.index
    if method == "auto":
        method = choose_method(len(rows), index.size)
    if method == "faiss":
        pos, val = retrieve_ann(index, newcomers, rows, text_rows, ex_local, ex_cols, seed)
    else:  # "dense" multiplies every pair, "pruned" skips tiles whatever the size: both equal "exact"
        prune = {"dense": False, "pruned": True}.get(method, index.prunes(len(rows)))
        pos, val = _exact_in_parts(index, newcomers, rows, text_rows, ex_local, ex_cols, prune, on_stage)
    return replace(index.rerank(newcomers, rows, pos, val, pos.shape[1]), newcomer_text=text_all)


def proposals_from(
    index: MentorIndex,
    newcomers: NewcomerTable,
    n_rows: np.ndarray,
    m_rows: np.ndarray,
    score: np.ndarray,
    value: np.ndarray,
    rank: np.ndarray,
    equity: np.ndarray,
    n_text_all: np.ndarray | None = None,
    explored: np.ndarray | None = None,
    propensity: np.ndarray | None = None,
) -> ProposalSet:
    """Assemble a ProposalSet from chosen (newcomer row, mentor row) pairs, ordered by newcomer id."""
    order = np.argsort(newcomers.ids[n_rows], kind="stable")
    n_rows, m_rows = n_rows[order], m_rows[order]
    feats = pair_features(index.space, index.mentors, newcomers, m_rows, n_rows, n_text_all=n_text_all)
    parts = np.hstack([feats[:, :8], equity[n_rows][:, None]]).astype(np.float32)
    return ProposalSet(
        newcomers.ids[n_rows],
        index.mentors.ids[m_rows],
        score[order],
        value[order],
        parts,
        rank[order],
        n_rows,
        m_rows,
        index.mentors,
        newcomers,
        explored=None if explored is None else explored[order],
        propensity=None if propensity is None else propensity[order],
    )


def propose(
    mentors: MentorTable,
    newcomers: NewcomerTable,
    policy: Policy | None = None,
    *,
    ranker: Reranker | None = None,
    exclude_pairs: Iterable[tuple[int, int]] = (),
    seed: int = 0,
    arc_limit: int | None = None,
    on_stage: StageHook | None = None,
) -> ProposalSet:
    """Globally assign at most one mentor per newcomer, maximising total score under all constraints.

    ranker: a fitted LearnedRanker that re-orders each newcomer's retrieved pool (never retrieval).
    arc_limit: most candidate arcs solved as one min-cost flow (None: all, exact; see matching.assign).
    on_stage: progress before the assignment, (stage, done, total), done/total being the share of the
    stage done: ("index", 1, 1) once the mentors are embedded, ("candidates", done, total) as the
    newcomers' pools are searched part by part, ("candidates", 1, 1) once they are ranked. It may raise
    to stop the run there.
    """
    policy = policy or Policy()
    if len(mentors) == 0 or len(newcomers) == 0:
        return empty_like(mentors, newcomers)
    index = build_index(mentors, policy, ranker=ranker, seed=seed)
    if on_stage is not None:
        on_stage("index", 1, 1)
    cand = find_candidates(index, newcomers, exclude_pairs=exclude_pairs, seed=seed, on_stage=on_stage)
    if on_stage is not None:
        on_stage("candidates", 1, 1)
    return assign_candidates(index, newcomers, cand, seed=seed, arc_limit=arc_limit)


def assign_candidates(
    index: MentorIndex,
    newcomers: NewcomerTable,
    cand: Candidates,
    *,
    seed: int = 0,
    arc_limit: int | None = None,
    mapper: Mapper = serial_map,
) -> ProposalSet:
    """Min-cost-flow assignment of ranked candidates, with the policy's equity bonus, then exploration.

    arc_limit and mapper: see matching.assign (mapper decides where decomposed problems are solved).
    """
    policy = index.policy
    equity = equity_part(equity_tiers(newcomers))
    bonus = policy.weights.equity * equity if policy.use_equity else np.zeros(len(newcomers), np.float32)
    values = cand.scores + bonus[cand.newcomer_rows][:, None].astype(np.float32)
    cand = explore(index, cand, seed)
    values = values.copy()
    values[cand.explored] = cand.scores[cand.explored] + bonus[cand.newcomer_rows[cand.explored]][:, None]
    values[cand.explored] += EXPLORE_BONUS
    r, c, _ = assign(cand, values, index.mentors, newcomers, arc_limit=arc_limit, mapper=mapper)
    n_rows, m_rows = cand.newcomer_rows[r], cand.mentor_rows[r, c]
    score = cand.scores[r, c]
    rank = np.where(cand.explored[r], cand.explored_rank[r], c + 1).astype(np.int32)
    return proposals_from(
        index,
        newcomers,
        n_rows,
        m_rows,
        score,
        score + bonus[n_rows],
        rank,
        equity,
        cand.newcomer_text,
        cand.explored[r],
        cand.propensity[r],
    )
