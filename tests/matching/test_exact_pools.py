"""Exact pools under the full score: the pruned and the dense search equal a brute force, bit for bit."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching import Policy, Weights, build_index, find_candidates
from matching.exact import exact_values
from matching.synthetic import generate_population
from tests.matching.conftest import mentor, newcomer, tables
from tests.matching.reference import brute_force_pools

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def cases(draw: Any) -> tuple[Any, Policy, np.ndarray]:
    """A small synthetic population, a policy and some excluded pairs."""
    n_m, n_n, seed = draw(st.integers(20, 220)), draw(st.integers(10, 160)), draw(st.integers(0, 10_000))
    pop = generate_population(n_m, n_n, seed, with_display=False)
    if draw(st.booleans()):  # without text, many mentors tie exactly: the certificate must widen the search
        pop = replace(
            pop,
            mentors=replace(pop.mentors, texts=None),
            newcomers=replace(pop.newcomers, texts=None),
        )
    policy = Policy(
        k=draw(st.integers(1, 6)),
        pool=draw(st.none() | st.integers(1, 30)),
        separation=draw(st.sampled_from(["county", "prefecture", "province"])),
        max_distance_km=draw(st.none() | st.sampled_from([400.0, 900.0, 2000.0])),
        same_product_same_prefecture=draw(st.sampled_from(["penalise", "exclude"])),
        # A heavy distance weight makes the band decide most pools, so the certificate binds.
        weights=Weights(distance=draw(st.sampled_from([0.1, 0.5, 1.5]))),
        block_rows=draw(st.sampled_from([16, 64, 2048])),
    )
    rng = np.random.default_rng(seed)
    n_ex = draw(st.integers(0, 40))
    excluded = np.stack([rng.choice(pop.newcomers.ids, n_ex), rng.choice(pop.mentors.ids, n_ex)], axis=1)
    return pop, policy, excluded


@SETTINGS
@given(cases())
def test_pruned_and_dense_pools_equal_the_brute_force(case: tuple[Any, Policy, np.ndarray]) -> None:
    pop, policy, excluded = case
    index = build_index(pop.mentors, policy)
    rows, ref_mentors, ref_scores = brute_force_pools(index, pop.newcomers, excluded)
    for method in ("pruned", "dense", "exact"):
        cand = find_candidates(index, pop.newcomers, exclude_pairs=excluded.tolist(), method=method)
        assert np.array_equal(cand.newcomer_rows, rows)
        assert np.array_equal(cand.pool_rows, ref_mentors), method
        assert np.array_equal(cand.pool_scores, ref_scores), method


def test_pruned_search_skips_most_pairs_and_equals_dense(monkeypatch: pytest.MonkeyPatch) -> None:
    """At a size where tiles are worth skipping, the pruned search scores a fraction of the pairs."""
    from matching import pruning

    pop = generate_population(3000, 2500, seed=11, with_display=False)
    index = build_index(pop.mentors, Policy(k=10))
    scored = []
    original = pruning.CategoryTiles._scores

    def counting(self: Any, index: Any, search: Any, n_cat: Any, ex_l: Any, ex_t: Any, r: Any, g: int) -> Any:
        scored.append(len(r) * int(self.starts[g + 1] - self.starts[g]))
        return original(self, index, search, n_cat, ex_l, ex_t, r, g)

    monkeypatch.setattr(pruning.CategoryTiles, "_scores", counting)
    pruned = find_candidates(index, pop.newcomers, method="pruned")
    dense = find_candidates(index, pop.newcomers, method="dense")
    assert np.array_equal(pruned.pool_rows, dense.pool_rows)
    assert np.array_equal(pruned.pool_scores, dense.pool_scores)
    assert np.array_equal(pruned.mentor_rows, dense.mentor_rows)
    assert sum(scored) < 0.3 * len(pruned.newcomer_rows) * index.size
    # The counts the bench reports are the pairs the tiles multiplied, row by row.
    pruned = find_candidates(index, pop.newcomers, method="pruned")
    counts, rows = index.tiles.counts, len(pruned.newcomer_rows)
    assert counts.warm_pairs + counts.later_pairs == sum(scored) // 2  # scored holds both pruned runs
    assert counts.rows == rows and counts.row_tiles == rows * (len(index.tiles.starts) - 1)
    assert 0 < counts.warm_tiles <= rows * pruning.WARM
    assert counts.warm_tiles + counts.later_tiles < counts.row_tiles
    assert 0 < counts.offered <= counts.warm_pairs + counts.later_pairs


def test_full_score_finds_the_near_mentor_a_retrieval_pool_misses() -> None:
    """The band is added after retrieval: a near mentor with a slightly lower retrieval value must win.

    Three far mentors (Yunnan, ~1,600 km from Fujian) beat the near one (Fujian) on retrieval by a
    little track record; a retrieval pool of 2 would hold only far ones.
    """
    far = [mentor(i, "530102", ["tea.processing"], fulfilment_rate=0.9) for i in (1, 2, 3)]
    near = [mentor(4, "350702", ["tea.processing"], fulfilment_rate=0.85)]
    m, n = tables(far + near, [newcomer(10, "350524", ["tea.growing"])])
    index = build_index(m, Policy(k=1, pool=2))
    retrieval = (
        index.space.newcomer_queries(n, np.zeros(1, np.int64), index.weights) @ index.keys[: index.size].T
    )
    by_retrieval = m.ids[index.order[np.argsort(-retrieval[0], kind="stable")]]
    assert set(by_retrieval[:2]) <= {1, 2, 3}  # what a retrieval pool of 2 would hold
    cand = find_candidates(index, n)
    assert m.ids[cand.mentor_rows[0, 0]] == 4
    assert sorted(m.ids[cand.pool_rows[0]].tolist()) == [1, 4]  # ties among the far ones: smallest id


def test_identical_mentors_tie_by_id_through_the_wider_search(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forty identical mentors tie exactly: the pool takes the smallest ids, found by widening the search."""
    mentors = [mentor(100 - i, "530102", ["tea.processing"]) for i in range(40)]
    m, n = tables(mentors, [newcomer(1, "350524", ["tea.growing"]), newcomer(2, "350525", ["tea.growing"])])
    index = build_index(m, Policy(k=3, pool=5))
    calls = []
    dense = index.search_dense

    def spy(*args: Any) -> Any:
        calls.append(args[-1])  # the room kept per row
        return dense(*args)

    monkeypatch.setattr(index, "search_dense", spy)
    cand = find_candidates(index, n)
    assert [sorted(m.ids[r].tolist()) for r in cand.pool_rows] == [list(range(61, 66))] * 2
    assert calls[0] == 5 + 8 and max(calls) > 5 + 8  # widened after 13 of 40 tied pairs were kept


def test_canonical_values_do_not_depend_on_the_batch() -> None:
    rng = np.random.default_rng(0)
    q = rng.standard_normal((50, 119)).astype(np.float32)
    keys = rng.standard_normal((400, 119)).astype(np.float32)
    pos = rng.integers(0, 400, (50, 12))
    together = exact_values(q, keys[pos], np.zeros(pos.shape, np.float32))
    one_by_one = np.array(
        [
            [exact_values(q[i : i + 1], keys[pos[i, j]][None], np.zeros(1, np.float32))[0] for j in range(12)]
            for i in range(50)
        ]
    )
    assert np.array_equal(together, one_by_one)


def test_query_rows_do_not_depend_on_the_batch(small_pop: Any) -> None:
    index = build_index(small_pop.mentors, Policy())
    rows = np.arange(300)
    text = index.space.newcomer_text(small_pop.newcomers, rows)
    whole = index.space.newcomer_queries(small_pop.newcomers, rows, index.weights, text)
    for part in (slice(0, 1), slice(7, 9), slice(100, 103), slice(5, 300)):
        alone = index.space.newcomer_queries(small_pop.newcomers, rows[part], index.weights, text[part])
        assert np.array_equal(alone, whole[part])


@SETTINGS
@given(cases(), st.integers(1, 60), st.sampled_from(["pruned", "dense"]))
def test_the_search_in_parts_gives_the_pools_of_one_search(
    case: tuple[Any, Policy, np.ndarray], chunk: int, method: str
) -> None:
    # A run's progress (and its cancel) is checked between parts of the newcomers: each row's pool
    # depends on that row alone, so the parts must give the very candidates one search gives.
    from matching import pipeline

    pop, policy, excluded = case
    index = build_index(pop.mentors, policy)
    whole = find_candidates(index, pop.newcomers, exclude_pairs=excluded.tolist(), method=method)
    seen: list[tuple[str, int, int]] = []
    original = pipeline.SEARCH_CHUNK_ROWS
    pipeline.SEARCH_CHUNK_ROWS = chunk
    try:
        parts = find_candidates(
            index,
            pop.newcomers,
            exclude_pairs=excluded.tolist(),
            method=method,
            on_stage=lambda *report: seen.append(report),
        )
    finally:
        pipeline.SEARCH_CHUNK_ROWS = original
    for name in ("newcomer_rows", "mentor_rows", "scores", "pool_rows", "pool_scores"):
        assert np.array_equal(getattr(parts, name), getattr(whole, name)), name
    total = len(whole.newcomer_rows)
    assert seen == [("candidates", done, total) for done in range(chunk, total, chunk)]


def test_the_pruned_counts_are_those_of_every_part(monkeypatch: pytest.MonkeyPatch) -> None:
    from matching import pipeline

    pop = generate_population(3000, 2500, seed=11, with_display=False)
    index = build_index(pop.mentors, Policy(k=10))
    find_candidates(index, pop.newcomers, method="pruned")
    whole = replace(index.tiles.counts)
    monkeypatch.setattr(pipeline, "SEARCH_CHUNK_ROWS", 700)
    find_candidates(index, pop.newcomers, method="pruned")
    parts = index.tiles.counts
    assert parts.rows == whole.rows and parts.row_tiles == whole.row_tiles
    assert parts.warm_pairs + parts.later_pairs > 0
