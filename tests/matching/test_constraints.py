"""Property tests: every hard constraint holds on random small populations, and runs are deterministic."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching import MentorTable, NewcomerTable, Policy, Weights, build_index, find_candidates, propose
from matching.assign import diversity_keys
from matching.regions import haversine_km
from matching.score import equity_part, equity_tiers
from tests.matching.conftest import COUNTIES, PRODUCTS, mentor, newcomer

RESOURCES = ("information", "technology", "human_capital", "logistics")
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def populations(draw: Any) -> tuple[MentorTable, NewcomerTable]:
    n_m = draw(st.integers(1, 10))
    n_n = draw(st.integers(1, 25))
    pick = st.sampled_from
    mentors = [
        mentor(
            i + 1,
            draw(pick(COUNTIES)),
            draw(st.lists(pick(PRODUCTS), min_size=1, max_size=2)),
            capacity_left=draw(st.integers(0, 3)),
            resources_offered=draw(st.lists(pick(RESOURCES), min_size=1, max_size=4, unique=True)),
            fulfilment_rate=draw(st.none() | st.floats(0, 1)),
        )
        for i in range(n_m)
    ]
    newcomers = [
        newcomer(
            100 + i,
            draw(pick(COUNTIES)),
            draw(st.lists(pick(PRODUCTS), min_size=1, max_size=2)),
            resources_needed=draw(st.lists(pick(RESOURCES), max_size=4, unique=True)),
            has_active_mentor=draw(st.integers(0, 4)) == 0,
            county_penetration=draw(st.none() | st.floats(0, 1)),
        )
        for i in range(n_n)
    ]
    return MentorTable.from_records(mentors), NewcomerTable.from_records(newcomers)


policies = st.builds(
    Policy,
    separation=st.sampled_from(["county", "prefecture", "province"]),
    max_distance_km=st.none() | st.sampled_from([50.0, 200.0, 1000.0]),
    k=st.integers(1, 4),
    same_product_same_prefecture=st.sampled_from(["penalise", "exclude"]),
    use_equity=st.booleans(),
)


def _check_hard_constraints(
    ps: Any, m: MentorTable, n: NewcomerTable, policy: Policy, excluded: set[tuple[int, int]]
) -> None:
    n_rows, m_rows = ps.newcomer_row, ps.mentor_row
    level = policy.separation
    assert (n.level_codes(level)[n_rows] != m.level_codes(level)[m_rows]).all()
    if policy.max_distance_km is not None:
        km = haversine_km(
            n.lat[n_rows].astype(float),
            n.lon[n_rows].astype(float),
            m.lat[m_rows].astype(float),
            m.lon[m_rows].astype(float),
        )
        assert (km <= policy.max_distance_km * 1.001 + 1e-6).all()
    load = np.bincount(m_rows, minlength=len(m))
    assert (load <= np.maximum(m.capacity_left, 0)).all()
    assert len(np.unique(ps.newcomer_id)) == len(ps)
    assert not n.has_active_mentor[n_rows].any()
    assert not ({(int(a), int(b)) for a, b in zip(ps.newcomer_id, ps.mentor_id, strict=True)} & excluded)
    keys = diversity_keys(m_rows, n, n_rows)
    assert len(np.unique(keys)) == len(keys)
    if policy.same_product_same_prefecture == "exclude":
        same_pref = n.county[n_rows] // 100 == m.county[m_rows] // 100
        identical = np.asarray(n.categories[n_rows].multiply(m.categories[m_rows]).sum(axis=1)).ravel() > 0
        assert not (same_pref & identical).any()


@SETTINGS
@given(pop=populations(), policy=policies, data=st.data())
def test_hard_constraints_hold(pop: tuple[MentorTable, NewcomerTable], policy: Policy, data: Any) -> None:
    m, n = pop
    pairs = [(int(a), int(b)) for a in n.ids for b in m.ids]
    excluded = set(data.draw(st.lists(st.sampled_from(pairs), max_size=6))) if pairs else set()
    ps = propose(m, n, policy, exclude_pairs=sorted(excluded))
    _check_hard_constraints(ps, m, n, policy, excluded)


@SETTINGS
@given(pop=populations(), policy=policies, seed=st.integers(0, 3))
def test_deterministic(pop: tuple[MentorTable, NewcomerTable], policy: Policy, seed: int) -> None:
    m, n = pop
    a = propose(m, n, policy, seed=seed)
    b = propose(m, n, policy, seed=seed)
    assert a.newcomer_id.tolist() == b.newcomer_id.tolist() and a.mentor_id.tolist() == b.mentor_id.tolist()
    assert np.array_equal(a.score, b.score) and np.array_equal(a.parts, b.parts)


@SETTINGS
@given(pop=populations())
def test_equity_guarantee(pop: tuple[MentorTable, NewcomerTable]) -> None:
    """No unmatched newcomer u with a free-slot candidate m where a better-served v got m at lower score."""
    m, n = pop
    policy = Policy(k=4, weights=Weights(equity=0.2), exploration=0.0)  # the guarantee is about the optimum
    index = build_index(m, policy)
    cand = find_candidates(index, n)
    ps = propose(m, n, policy)
    tiers = equity_tiers(n)
    bonus = policy.weights.equity * equity_part(tiers)
    matched_rows = set(ps.newcomer_row.tolist())
    used_keys = set(diversity_keys(ps.mentor_row, n, ps.newcomer_row).tolist())
    score_of = {
        (int(r), int(mr)): float(s)
        for r, mrs, ss in zip(cand.newcomer_rows, cand.mentor_rows, cand.scores, strict=True)
        for mr, s in zip(mrs, ss, strict=True)
        if mr >= 0
    }
    for u, mrs in zip(cand.newcomer_rows, cand.mentor_rows, strict=True):
        if u in matched_rows:
            continue
        for mr in mrs[mrs >= 0]:
            s_u = score_of[(int(u), int(mr))]
            if s_u + bonus[u] <= 0:
                continue
            key = int(diversity_keys(np.array([mr]), n, np.array([u]))[0])
            if key in used_keys:
                continue
            for v in ps.newcomer_row[ps.mentor_row == mr]:
                if tiers[v] > tiers[u]:
                    assert score_of[(int(v), int(mr))] + 1e-3 >= s_u + bonus[u] - bonus[v]
