"""Shortcuts that must not change a bit: the flow network's node labels, the bands and order of pools,
the text transform on worker threads, the category sets of the pruning tiles."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching import Policy, build_index, candidates, find_candidates, threads
from matching import text as text_model
from matching.exact import arc_cosines, band_of_cosine, gathered_arc_cosines
from matching.flow import _groups, _labels
from matching.pruning import tile_sets
from matching.regions import unit_vectors
from matching.synthetic import SyntheticPopulation
from matching.text import fit_text_model

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def label_inputs(draw: Any) -> np.ndarray:
    """Integer arrays of each kind solve_arcs meets: row numbers, sorted rows, large keys, negatives."""
    n = draw(st.integers(0, 60))
    kind = draw(st.sampled_from(["rows", "sorted", "keys", "negative"]))
    values = {
        "rows": st.integers(0, 80),
        "sorted": st.integers(0, 10**6),
        "keys": st.integers(0, 2**62),
        "negative": st.integers(-50, 50),
    }[kind]
    x = np.asarray(draw(st.lists(values, min_size=n, max_size=n)), np.int64)
    return np.sort(x) if kind == "sorted" else x


@SETTINGS
@given(label_inputs())
def test_node_labels_equal_np_unique(x: np.ndarray) -> None:
    values, inverse = np.unique(x, return_inverse=True)
    n, label = _labels(x)
    assert n == len(values) and np.array_equal(label, inverse.reshape(-1))


@SETTINGS
@given(label_inputs())
def test_slot_groups_equal_np_unique(x: np.ndarray) -> None:
    _, first, inverse, counts = np.unique(x, return_index=True, return_inverse=True, return_counts=True)
    label, first_of, count = _groups(x)
    assert np.array_equal(label, inverse.reshape(-1))
    assert np.array_equal(first_of, first) and np.array_equal(count, counts)


def test_pool_bands_are_the_pairwise_bits(small_pop: SyntheticPopulation) -> None:
    index = build_index(small_pop.mentors, Policy())
    rows = np.arange(len(small_pop.newcomers))
    rng = np.random.default_rng(3)
    pos = rng.integers(-1, index.size, size=(len(rows), 7))
    bands = index.pool_bands(small_pop.newcomers, rows, pos)
    r, c = np.nonzero(pos >= 0)
    u = unit_vectors(small_pop.newcomers.lat[rows[r]], small_pop.newcomers.lon[rows[r]], np.float64)
    pairwise = band_of_cosine(arc_cosines(u, index.unit64[pos[r, c]]))
    assert r.size and np.array_equal(bands[r, c], pairwise)


@pytest.mark.parametrize("policy", [Policy(), Policy(max_distance_km=600.0), Policy(pairing="chain")])
def test_sorted_pools_skip_the_sorts_with_the_same_result(
    small_pop: SyntheticPopulation, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = build_index(small_pop.mentors, policy)
    fast = find_candidates(index, small_pop.newcomers)
    calls: list[bool] = []

    def never_in_order(scores: np.ndarray, ids: np.ndarray) -> bool:
        calls.append(True)
        return False

    monkeypatch.setattr(candidates, "in_pool_order", never_in_order)
    monkeypatch.setattr("matching.stages.in_pool_order", never_in_order)
    slow = find_candidates(index, small_pop.newcomers)
    assert calls, "the sorted path must have been taken"
    for f in ("newcomer_rows", "mentor_rows", "scores", "pool_rows", "pool_scores"):
        assert np.array_equal(getattr(fast, f), getattr(slow, f)), f


def test_in_pool_order_detects_any_misordered_pair() -> None:
    neg = -np.inf
    ids = np.array([[1, 2, 3]])
    assert candidates.in_pool_order(np.array([[0.9, 0.5, neg]], np.float32), ids)
    assert candidates.in_pool_order(np.array([[0.5, 0.5, 0.1]], np.float32), ids)  # ties by id
    assert not candidates.in_pool_order(np.array([[0.5, 0.5, 0.1]], np.float32), ids[:, ::-1])
    assert not candidates.in_pool_order(np.array([[0.5, 0.9, 0.1]], np.float32), ids)
    assert not candidates.in_pool_order(np.array([[neg, 0.9, 0.1]], np.float32), ids)


def test_threaded_and_serial_transforms_are_bit_identical(
    small_pop: SyntheticPopulation, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, _ = fit_text_model(small_pop.mentors.texts, seed=0)
    texts = small_pop.newcomers.texts
    monkeypatch.setattr(text_model, "CHUNK", 37)  # several chunks, the last one short
    monkeypatch.setattr(threads, "WORKERS", 2)
    threaded = model.transform(texts)
    monkeypatch.setattr(threads, "WORKERS", 1)
    serial = model.transform(texts)
    assert len(texts) > 3 * 37 and np.array_equal(threaded, serial)


def test_map_parallel_keeps_order_and_runs_serially_inside_a_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "WORKERS", 2)
    assert threads.map_parallel(lambda x: x * x, list(range(9))) == [x * x for x in range(9)]
    # Inside a worker thread the nested map must not queue behind itself (it would deadlock the pool).
    nested = threads.executor(2).submit(threads.map_parallel, lambda x: x + 1, [1, 2, 3])
    assert nested.result(timeout=10) == [2, 3, 4]


@SETTINGS
@given(st.integers(1, 40), st.integers(1, 40), st.integers(0, 2**32 - 1))
def test_gathered_arc_cosines_are_the_pairwise_bits(n_a: int, n_b: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = unit_vectors(rng.uniform(-90, 90, n_a), rng.uniform(-180, 180, n_a), np.float64)
    b = unit_vectors(rng.uniform(-90, 90, n_b), rng.uniform(-180, 180, n_b), np.float64)
    i, j = rng.integers(0, n_a, 200), rng.integers(0, n_b, 200)
    gathered = gathered_arc_cosines(np.ascontiguousarray(a.T), i, np.ascontiguousarray(b.T), j)
    assert np.array_equal(gathered, arc_cosines(a[i], b[j]))


@st.composite
def tiled_rows(draw: Any) -> tuple[np.ndarray, np.ndarray]:
    """Float32 category rows with many repeats (a few distinct values, -0.0 among them) and tile bounds."""
    n, width = draw(st.integers(1, 60)), draw(st.integers(1, 6))
    cells = st.sampled_from([0.0, -0.0, 0.25, 0.5, 1.0])
    cat = np.asarray(draw(st.lists(cells, min_size=n * width, max_size=n * width)), np.float32)
    cuts = draw(st.sets(st.integers(1, n - 1), max_size=min(8, n - 1))) if n > 1 else set()
    return cat.reshape(n, width), np.asarray([0, *sorted(cuts), n], np.int64)


@SETTINGS
@given(tiled_rows(), st.booleans())
def test_tile_sets_hold_each_tiles_distinct_rows(case: tuple[np.ndarray, np.ndarray], collide: bool) -> None:
    """Hashed grouping (or, when every row collides, the np.unique fallback) keeps each tile's rows."""
    cat, bounds = case
    mult = np.zeros(cat.shape[1], np.uint64) if collide else None  # zero multipliers: one hash for all
    sets, starts = tile_sets(cat, bounds, mult)
    ends = np.append(starts[1:], len(sets))
    assert len(starts) == len(bounds) - 1
    for (lo, hi), a, b in zip(pairwise(bounds.tolist()), starts, ends, strict=True):
        mine = sets[a:b]
        assert np.array_equal(np.unique(mine, axis=0), np.unique(cat[lo:hi], axis=0))
        # On the hashed path no row comes twice (0.0 and -0.0 differ in bits: both may stay, harmlessly).
        assert len(np.unique(mine.view(np.uint32), axis=0)) == len(mine) or collide
