"""Exactness of the blocked-GEMM top-k against a brute-force reference; faiss recall."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from matching import Policy, build_index, find_candidates
from matching.candidates import exclusion_arrays, topk_rows
from matching.features import pair_features


@settings(max_examples=60, deadline=None)
@given(
    arrays(
        np.float32,
        st.tuples(st.integers(1, 6), st.sampled_from([16, 64, 160])),
        elements=st.floats(-5, 5, width=32),
    ),
    st.integers(1, 8),
    st.sampled_from([1, 4, 16]),
)
def test_topk_rows_matches_sort(scores: np.ndarray, k: int, groups: int) -> None:
    idx, vals = topk_rows(scores.copy(), k, groups)
    k = min(k, scores.shape[1])
    expected = -np.sort(-scores, axis=1)[:, :k]
    assert np.array_equal(-np.sort(-vals, axis=1), expected)
    assert np.array_equal(np.take_along_axis(scores, idx, 1), vals)


def _brute_force_pool(index, newcomers, rows, pool):
    """Reference: score every allowed pair in full with pair features and the weights, pick the top."""
    m = index.mentors
    w = index.weights
    names = (
        "product",
        "resources",
        "channels",
        "language",
        "text",
        "track",
        "distance",
        "homogenization",
        "need_information_met",
        "need_technology_met",
        "need_human_capital_met",
        "need_logistics_met",
    )
    out = []
    for r in rows:
        mr = index.order
        f = pair_features(index.space, m, newcomers, mr, np.full(len(mr), r))
        from matching.features import FEATURE_NAMES

        col = {n: i for i, n in enumerate(FEATURE_NAMES)}
        s = sum(w[n] * f[:, col[n]] for n in names)
        allowed = newcomers.county[r] != m.county[mr]
        s = np.where(allowed, s, -np.inf)
        top = np.sort(s)[::-1][:pool]
        out.append(top[np.isfinite(top)])
    return out


def test_exact_pool_equals_brute_force_on_pair_features(small_pop) -> None:
    """The full scores of the pool are the best ones the named pair features give (independent code)."""
    policy = Policy(k=5, block_rows=256)
    index = build_index(small_pop.mentors, policy)
    n = small_pop.newcomers
    rows = np.flatnonzero(~n.has_active_mentor)[:60]
    rows = rows[np.argsort(n.county[rows], kind="stable")]
    ex_local, ex_cols = exclusion_arrays(index, n, rows, np.zeros((0, 2), np.int64))
    text = index.space.newcomer_text(n, rows)
    pos, val = index.retrieve_exact(n, rows, text, ex_local, ex_cols)
    full = index.rerank(n, rows, pos, val, pos.shape[1]).scores  # the pool in full, best first
    reference = _brute_force_pool(index, n, rows, policy.pool_size)
    for i in range(len(rows)):
        got = full[i][np.isfinite(full[i])]
        assert len(got) == len(reference[i]) and np.allclose(got, reference[i], atol=1e-4)


def test_faiss_index_recall_and_constraints(small_pop) -> None:
    exact = find_candidates(build_index(small_pop.mentors, Policy(k=10)), small_pop.newcomers)
    approx_index = build_index(small_pop.mentors, Policy(k=10, index="faiss", faiss_nprobe=64))
    approx = find_candidates(approx_index, small_pop.newcomers)
    assert np.array_equal(exact.newcomer_rows, approx.newcomer_rows)
    hits = [
        len(set(a[a >= 0]) & set(e[e >= 0])) / max((e >= 0).sum(), 1)
        for a, e in zip(approx.mentor_rows, exact.mentor_rows, strict=True)
    ]
    assert np.mean(hits) >= 0.95
    m, n = small_pop.mentors, small_pop.newcomers
    ok = approx.mentor_rows >= 0
    n_county = np.repeat(n.county[approx.newcomer_rows][:, None], ok.shape[1], 1)
    assert (m.county[approx.mentor_rows[ok]] != n_county[ok]).all()


def test_rerank_score_equals_full_scorer_on_pair_features(small_pop) -> None:
    from matching.score import WeightedScorer

    scorer = WeightedScorer(Policy().weights)
    index = build_index(small_pop.mentors, Policy(k=5))
    cand = find_candidates(index, small_pop.newcomers)
    ok = cand.mentor_rows >= 0
    rows = np.repeat(cand.newcomer_rows[:, None], ok.shape[1], 1)[ok]
    feats = pair_features(index.space, small_pop.mentors, small_pop.newcomers, cand.mentor_rows[ok], rows)
    assert np.allclose(scorer.score(feats), cand.scores[ok], atol=1e-4)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 4),
    st.sampled_from([16 * 8 * 5, 16 * 8 * 12, 16 * 8 * 12 + 16 * 3, 2048 + 16 * 5]),
    st.integers(1, 8),
    st.integers(0, 2**32 - 1),
    st.booleans(),
)
def test_two_level_topk_matches_sort(b: int, m: int, k: int, seed: int, ties: bool) -> None:
    """Blocks wide enough for the second level of group maxima, with and without exact ties / -inf."""
    rng = np.random.default_rng(seed)
    scores = rng.standard_normal((b, m)).astype(np.float32)
    if ties:
        scores = np.round(scores * 2).astype(np.float32)
        scores[:, rng.integers(0, m, m // 3)] = -np.inf
    idx, vals = topk_rows(scores.copy(), k, 16)
    expected = -np.sort(-scores, axis=1)[:, :k]
    assert np.array_equal(-np.sort(-vals, axis=1), expected)
    assert np.array_equal(np.take_along_axis(scores, idx, 1), vals)
    assert all(len(set(row)) == k for row in idx.tolist())


def test_auto_index_chooses_exact_until_the_pair_budget(monkeypatch) -> None:
    import importlib.util

    from matching import pipeline

    assert pipeline.choose_method(1_000_000, 100_000) == "exact"  # 1e11 pairs: exact fits in 10 minutes
    has_faiss = importlib.util.find_spec("faiss") is not None
    assert pipeline.choose_method(10_000_000, 100_000) == ("faiss" if has_faiss else "exact")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)  # faiss not installed
    assert pipeline.choose_method(10_000_000, 100_000) == "exact"


def test_auto_index_runs_the_exact_search_and_faiss_above_the_budget(small_pop, monkeypatch) -> None:
    import importlib.util

    from matching import pipeline

    exact = find_candidates(build_index(small_pop.mentors, Policy(k=5)), small_pop.newcomers)
    auto_index = build_index(small_pop.mentors, Policy(k=5, index="auto"))
    assert np.array_equal(exact.mentor_rows, find_candidates(auto_index, small_pop.newcomers).mentor_rows)
    if importlib.util.find_spec("faiss") is None:
        return

    def faiss_path(*args, **kwargs):
        raise RuntimeError("faiss path")

    monkeypatch.setattr(pipeline, "EXACT_MAX_PAIRS", 0)
    monkeypatch.setattr(pipeline, "retrieve_ann", faiss_path)
    with pytest.raises(RuntimeError, match="faiss path"):
        find_candidates(auto_index, small_pop.newcomers)


def test_dense_categories_equals_scipy(small_pop) -> None:
    for table in (small_pop.mentors, small_pop.newcomers):
        rows = np.random.default_rng(1).integers(0, len(table), 400)
        assert np.array_equal(table.dense_categories(rows), table.categories[rows].toarray())
        assert table.dense_categories(np.zeros(0, np.int64)).shape == (0, table.categories.shape[1])


def test_homogenization_bitsets_match_the_matrix_fallback(small_pop) -> None:
    """Category bit sets (<= 64 categories) and the matrix product (more) mark the same pairs."""
    for rule in ("penalise", "exclude"):
        index = build_index(small_pop.mentors, Policy(k=5, same_product_same_prefecture=rule))
        with_bits = find_candidates(index, small_pop.newcomers)
        index.cat_bits = None
        without = find_candidates(index, small_pop.newcomers)
        assert np.array_equal(with_bits.mentor_rows, without.mentor_rows)
        assert np.array_equal(with_bits.scores, without.scores)


@pytest.mark.parametrize("workers", [2, 3])
def test_threaded_row_slices_equal_one_thread(small_pop, monkeypatch, workers: int) -> None:
    """Masks and top-k on parallel row slices of each block give exactly the single-thread candidates,
    with exclusions and the distance limit spread over the slices."""
    from matching import candidates

    rng = np.random.default_rng(5)
    ids_n, ids_m = small_pop.newcomers.ids, small_pop.mentors.ids
    excluded = list(zip(rng.choice(ids_n, 300).tolist(), rng.choice(ids_m, 300).tolist(), strict=True))
    for policy in (Policy(k=5, block_rows=700), Policy(k=5, block_rows=512, max_distance_km=1200.0)):
        index = build_index(small_pop.mentors, policy)
        monkeypatch.setattr(candidates, "SPLIT_MIN_ROWS", 8)
        monkeypatch.setattr(candidates, "WORKERS", 1)
        one = find_candidates(index, small_pop.newcomers, exclude_pairs=excluded)
        monkeypatch.setattr(candidates, "WORKERS", workers)
        many = find_candidates(index, small_pop.newcomers, exclude_pairs=excluded)
        assert np.array_equal(one.mentor_rows, many.mentor_rows)
        assert np.array_equal(one.scores, many.scores)
