"""Hand-built tiny cases with known answers, including infeasible ones."""

from __future__ import annotations

import numpy as np
import pytest

from matching import Policy, Weights, build_index, evaluate, find_candidates, propose
from tests.matching.conftest import mentor, newcomer, tables


def test_no_capacity_left_gives_no_proposals() -> None:
    m, n = tables(
        [mentor(1, "530102", ["tea.processing"], capacity_left=0)], [newcomer(10, "350524", ["tea.growing"])]
    )
    assert len(propose(m, n)) == 0


def test_all_in_one_county_gives_no_proposals() -> None:
    m, n = tables(
        [mentor(i, "350524", ["tea.processing"], capacity_left=3) for i in range(1, 4)],
        [newcomer(10 + i, "350524", ["tea.growing"]) for i in range(5)],
    )
    assert len(propose(m, n)) == 0


def test_newcomer_with_active_mentor_gets_nothing() -> None:
    m, n = tables(
        [mentor(1, "530102", ["tea.processing"], capacity_left=3)],
        [
            newcomer(10, "350524", ["tea.growing"], has_active_mentor=True),
            newcomer(11, "350525", ["tea.growing"]),
        ],
    )
    assert propose(m, n).newcomer_id.tolist() == [11]


@pytest.mark.parametrize(("separation", "expected"), [("county", 2), ("prefecture", 3), ("province", 4)])
def test_separation_levels(separation: str, expected: int) -> None:
    # Newcomer in 安溪 (3505, Fujian); mentors in the same county, prefecture, province, and in Yunnan.
    mentors = [
        mentor(1, "350524", ["tea.processing"]),
        mentor(2, "350525", ["tea.processing"]),
        mentor(3, "350702", ["tea.processing"]),
        mentor(4, "530102", ["tea.processing"]),
    ]
    m, n = tables(mentors, [newcomer(10, "350524", ["tea.growing"])])
    ps = propose(m, n, Policy(separation=separation, k=4))  # type: ignore[arg-type]
    best_allowed = {"county": {2, 3, 4}, "prefecture": {3, 4}, "province": {4}}[separation]
    assert len(ps) == 1 and int(ps.mentor_id[0]) in best_allowed
    cand = find_candidates(build_index(m, Policy(separation=separation, k=4)), n)  # type: ignore[arg-type]
    assert int((cand.mentor_rows >= 0).sum()) == len(best_allowed) and min(best_allowed) == expected


def test_max_distance_caps_pairs() -> None:
    m, n = tables(
        [mentor(1, "530102", ["tea.processing"]), mentor(2, "350702", ["fruit.citrus"])],
        [newcomer(10, "350524", ["tea.growing"])],
    )
    assert propose(m, n, Policy(max_distance_km=400)).mentor_id.tolist() == [2]  # Yunnan is ~1,600 km off
    assert len(propose(m, n, Policy(max_distance_km=50))) == 0


def test_excluded_pair_is_never_proposed() -> None:
    m, n = tables(
        [mentor(1, "530102", ["tea.processing"]), mentor(2, "532301", ["tea.growing"])],
        [newcomer(10, "350524", ["tea.growing"])],
    )
    assert propose(m, n).mentor_id.tolist() == [1]
    assert propose(m, n, exclude_pairs=[(10, 1)]).mentor_id.tolist() == [2]
    assert len(propose(m, n, exclude_pairs=[(10, 1), (10, 2)])) == 0


def test_complementary_mentor_reaches_candidates_among_many_identical() -> None:
    # 40 identical-product mentors with better side features, one tea processor: it must be retrieved.
    mentors = [
        mentor(
            i, "530102", ["tea.growing"], capacity_left=1, fulfilment_rate=1.0, channels=["douyin", "taobao"]
        )
        for i in range(1, 41)
    ]
    mentors.append(mentor(99, "532301", ["tea.processing"], fulfilment_rate=0.7))
    m, n = tables(mentors, [newcomer(10, "350524", ["tea.growing"])])
    cand = find_candidates(build_index(m, Policy(k=3)), n)
    assert int(m.rows_of([99])[0]) in cand.mentor_rows[0].tolist()
    ps = propose(m, n, Policy(k=3))
    assert ps.explain(0, "zh")[0].startswith("您做茶叶种植，对方做茶叶加工：产业链上下游")


def test_same_product_same_prefecture_penalised_or_excluded() -> None:
    # Mentor 1 shares the exact product in the newcomer's own prefecture (泉州); mentor 2 is far away.
    m, n = tables(
        [
            mentor(1, "350525", ["tea.growing"], fulfilment_rate=1.0),
            mentor(2, "530102", ["tea.growing"], fulfilment_rate=0.2),
        ],
        [newcomer(10, "350524", ["tea.growing"])],
    )
    assert propose(m, n).mentor_id.tolist() == [2]
    no_penalty = Policy(weights=Weights(homogenization=0.0))
    assert propose(m, n, no_penalty).mentor_id.tolist() == [1]
    ps = propose(m, n, Policy(same_product_same_prefecture="exclude"), exclude_pairs=[(10, 2)])
    assert len(ps) == 0


def test_diversity_one_newcomer_per_county_and_category_per_mentor() -> None:
    m, n = tables(
        [mentor(1, "530102", ["tea.processing"], capacity_left=5)],
        [newcomer(10 + i, "350524", ["tea.growing"]) for i in range(3)]
        + [newcomer(20, "350525", ["tea.growing"]), newcomer(21, "350524", ["fruit.citrus"])],
    )
    ps = propose(m, n)
    assert sorted(ps.newcomer_id.tolist())[1:] == [20, 21] and len(ps) == 3
    assert evaluate(ps, m, n)["diversity_violations"] == 0


def test_assignment_is_global_not_greedy() -> None:
    # Greedy gives mentor 1 to newcomer 10 (its best), leaving 11 with nothing; optimum matches both.
    m, n = tables(
        [mentor(1, "530102", ["tea.processing"]), mentor(2, "532301", ["fruit.processed"])],
        [newcomer(10, "350524", ["tea.growing", "fruit.citrus"]), newcomer(11, "350525", ["tea.growing"])],
    )
    ps = propose(m, n)
    assert dict(zip(ps.newcomer_id.tolist(), ps.mentor_id.tolist(), strict=True)) == {10: 2, 11: 1}


def test_equity_bonus_lets_least_served_newcomer_win_a_near_tie() -> None:
    # One mentor, two newcomers; the better-served one scores a little higher (track of resources).
    m, n = tables(
        [mentor(1, "530102", ["tea.processing"])],
        [
            newcomer(10, "350524", ["tea.growing"], county_penetration=0.9, resources_needed=["logistics"]),
            newcomer(
                11,
                "350702",
                ["tea.growing"],
                county_penetration=0.1,
                resources_needed=["logistics", "technology"],
            ),
        ],
    )
    assert propose(m, n, Policy(use_equity=False)).newcomer_id.tolist() == [10]
    ps = propose(m, n, Policy(weights=Weights(equity=0.5)))  # two counties: tiers 0 and 2
    assert ps.newcomer_id.tolist() == [11]
    assert ps.parts_of(0)["equity"] == 1.0 and float(ps.value[0]) == pytest.approx(float(ps.score[0]) + 0.5)


def test_evaluate_reports_all_measures(small_pop) -> None:
    ps = propose(small_pop.mentors, small_pop.newcomers)
    e = evaluate(ps, small_pop.mentors, small_pop.newcomers)
    for key in (
        "coverage",
        "mean_score",
        "cross_province_share",
        "diversity_violations",
        "equity_ratio",
        "capacity_utilisation",
    ):
        assert key in e and np.isfinite(e[key])
    assert e["cross_county_share"] == 1.0 and e["capacity_violations"] == 0
    assert 0 < e["coverage"] <= 1 and 0 < e["capacity_utilisation"] <= 1
