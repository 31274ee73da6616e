"""Explanations, suggested commitments and one-newcomer recommendations."""

from __future__ import annotations

import numpy as np

from matching import Policy, Recommender, propose, vocab
from tests.matching.conftest import mentor, newcomer, tables


def test_reasons_and_commitments_for_a_chain_pair() -> None:
    m, n = tables(
        [
            mentor(
                1,
                "530102",
                ["tea.processing"],
                resources_offered=["technology", "logistics"],
                languages=["mandarin", "southwestern_mandarin"],
                channels=["douyin", "taobao"],
            )
        ],
        [
            newcomer(
                10, "350524", ["茶叶"], resources_needed=["logistics", "information"], channels=["douyin"]
            )
        ],
    )
    ps = propose(m, n)
    zh, en = ps.explain(0, "zh"), ps.explain(0, "en")
    assert zh[0] == "您做茶叶种植，对方做茶叶加工：产业链上下游（对方在下游）"
    assert "one industrial chain" in en[0]
    assert any("物流" in s for s in zh) and any("抖音" in s for s in zh) and any("跨省" in s for s in zh)
    assert any("Douyin" in s for s in en) and any("80%" in s for s in en)
    commitments = ps.commitments(0)
    assert [c.resource for c in commitments] == ["logistics"]  # offered ∩ needed
    c = commitments[0]
    assert (
        c.area in vocab.AREAS and c.cadence_days > 0 and "茶叶种植" in c.description_zh and c.description_en
    )
    rec = ps.to_records(explain=True)[0]
    assert (
        rec["newcomer_id"] == 10
        and rec["reasons_zh"] == zh
        and rec["commitments"][0]["resource"] == "logistics"
    )


def test_no_overlap_still_suggests_a_follow_up() -> None:
    m, n = tables(
        [mentor(1, "530102", ["tea.growing"], resources_offered=["technology"])],
        [newcomer(10, "350524", ["tea.growing"], resources_needed=["logistics"])],
    )
    assert [c.resource for c in propose(m, n).commitments(0)] == ["information"]


def test_recommend_ranks_and_respects_constraints(small_pop) -> None:
    rec = Recommender(small_pop.mentors, Policy(k=5, separation="province"))
    record = small_pop.newcomer_records()[0]
    record["has_active_mentor"] = False
    out = rec.recommend(record, 5)
    assert 0 < len(out) <= 5 and out.rank.tolist() == list(range(1, len(out) + 1))
    assert (np.diff(out.score) <= 1e-7).all()
    m = small_pop.mentors
    assert (m.county[out.mentor_row] // 10000 != int(record["county_code"]) // 10000).all()
    assert (m.capacity_left[out.mentor_row] > 0).all()
    banned = int(out.mentor_id[0])
    assert banned not in rec.recommend(record, 5, exclude_mentor_ids=[banned]).mentor_id.tolist()
    assert out.explain(0, "en")
    assert len(rec.recommend({**record, "has_active_mentor": True})) == 0
