"""The synthetic generator: realistic, deterministic, with display data the app can seed."""

from __future__ import annotations

import re

import numpy as np

from matching import taxonomy, vocab
from matching.regions import counties
from matching.synthetic import generate_decisions, generate_population


def test_deterministic_by_seed() -> None:
    a, b = generate_population(50, 80, seed=9), generate_population(50, 80, seed=9)
    assert a.mentor_records() == b.mentor_records() and a.newcomer_records() == b.newcomer_records()
    c = generate_population(50, 80, seed=10)
    assert a.mentor_records() != c.mentor_records()
    d1 = generate_decisions(a, n_newcomers=20, per_newcomer=3, seed=1)
    d2 = generate_decisions(b, n_newcomers=20, per_newcomer=3, seed=1)
    assert np.array_equal(d1.approved, d2.approved) and np.array_equal(d1.mentor_ids, d2.mentor_ids)


def test_display_fields_are_plausible() -> None:
    pop = generate_population(200, 100, seed=2)
    known = set(counties().code.tolist())
    bands = {b[0] for b in vocab.SALES_BANDS}
    for rec in pop.mentor_records():
        assert int(rec["county_code"]) in known
        assert re.fullmatch(r"1[3-9]\d{9}", rec["phone"])
        assert rec["sales_band"] in bands and rec["kind"] in vocab.MENTOR_KINDS
        if rec["kind"] == "cooperative":
            assert rec["name"].endswith("合作社")
        elif rec["kind"] == "enterprise":
            assert rec["name"].endswith("有限公司")
        else:
            assert 2 <= len(rec["name"]) <= 3
        assert rec["text"] and rec["orders_per_month"] >= 0 and rec["employees"] >= 1
        assert all(p in taxonomy.category_index() for p in rec["products"])
    assert any(rec["honours"] for rec in pop.mentor_records())
    assert all(re.fullmatch(r"1[3-9]\d{9}", r["phone"]) for r in pop.newcomer_records())


def test_products_cluster_by_region() -> None:
    pop = generate_population(3000, 10, seed=4, with_display=False)
    m = pop.mentors
    tea = m.categories[:, taxonomy.category_index()["tea.growing"]].toarray().ravel() > 0
    fujian = m.county // 10000 == 35
    inner_mongolia = m.county // 10000 == 15
    assert tea[fujian].mean() > 3 * max(tea[inner_mongolia].mean(), 0.01)
