"""Global capacity- and diversity-constrained assignment by min-cost flow (not greedy).

Network: source -> newcomer (cap 1) -> diversity slot (mentor, newcomer county, newcomer primary
category; cap 1) -> mentor (cap = capacity left) -> sink, plus newcomer -> sink "unmatched" (cap 1).
A slot used by a single candidate arc cannot be over-filled, so that arc goes straight to the mentor;
this keeps the network small without changing the feasible set.

Objective: maximise the sum of pair values, value = ranking score + equity bonus, where the equity
bonus of a newcomer is weights.equity * (4 - tier) / 4 and tier is the quintile (0 = least served) of
its county's e-commerce penetration (see score.equity_tiers). A pair is matched only if its value > 0.

Equity guarantee (what the bonus buys, exact up to cost rounding 1/SCALE): at an optimum, for every
unmatched newcomer u and every candidate mentor m of u whose slot (m, county(u), category(u)) is free,
each newcomer v assigned to m satisfies value(v, m) >= value(u, m); hence, when v is from a better
served tier, score(v, m) >= score(u, m) + weights.equity * (tier(v) - tier(u)) / 4. Otherwise swapping
u in for v would raise the objective. So an under-served newcomer is never left unmatched while a
better-served one takes a mentor it wanted at a lower score.
"""

from __future__ import annotations

import numpy as np
from ortools.graph.python import min_cost_flow

from matching.candidates import Candidates
from matching.types import MentorTable, NewcomerTable

SCALE = 10_000  # integer costs: scores are resolved to 1e-4


def diversity_keys(
    mentor_rows: np.ndarray, newcomers: NewcomerTable, newcomer_rows: np.ndarray
) -> np.ndarray:
    """int64 key of the (mentor, newcomer county, newcomer primary category) slot of each pair."""
    cat = newcomers.primary_category[newcomer_rows].astype(np.int64) + 1  # -1 (no product) -> 0
    return (mentor_rows.astype(np.int64) * 1_000_000 + newcomers.county[newcomer_rows]) * 128 + cat


def assign(
    cand: Candidates, values: np.ndarray, mentors: MentorTable, newcomers: NewcomerTable
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Optimal assignment; returns (index into cand rows, candidate column, value) of matched pairs.

    values: (n, k) pair values aligned with cand.mentor_rows (-inf or invalid where no candidate).
    """
    valid = (cand.mentor_rows >= 0) & np.isfinite(values) & (values > 0)
    r, c = np.nonzero(valid)
    if len(r) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    m_rows = cand.mentor_rows[r, c]
    v = values[r, c].astype(np.float64)
    users, user_node = np.unique(r, return_inverse=True)  # only newcomers with a candidate
    mentor_ids, mentor_node = np.unique(m_rows, return_inverse=True)
    keys = diversity_keys(m_rows, newcomers, cand.newcomer_rows[r])
    _, slot_of_arc, slot_count = np.unique(keys, return_inverse=True, return_counts=True)
    shared = slot_count[slot_of_arc] > 1
    shared_slots, shared_inv = np.unique(slot_of_arc[shared], return_inverse=True)
    slot_mentor = mentor_node[np.unique(slot_of_arc, return_index=True)[1]][shared_slots]

    n_users, n_slots, n_mentors = len(users), len(shared_slots), len(mentor_ids)
    source, sink = 0, 1
    user0, slot0 = 2, 2 + n_users
    mentor0 = slot0 + n_slots
    offset = float(np.ceil(v.max())) + 1.0
    pair_head = np.where(shared, 0, mentor0 + mentor_node)
    pair_head[shared] = slot0 + shared_inv
    tails = np.concatenate(
        [
            np.full(n_users, source),
            user0 + user_node,
            slot0 + np.arange(n_slots),
            mentor0 + np.arange(n_mentors),
            user0 + np.arange(n_users),
        ]
    )
    heads = np.concatenate(
        [
            user0 + np.arange(n_users),
            pair_head,
            mentor0 + slot_mentor,
            np.full(n_mentors, sink),
            np.full(n_users, sink),
        ]
    )
    caps = np.concatenate(
        [
            np.ones(n_users),
            np.ones(len(r)),
            np.ones(n_slots),
            mentors.capacity_left[mentor_ids],
            np.ones(n_users),
        ]
    ).astype(np.int64)
    costs = np.concatenate(
        [
            np.zeros(n_users),
            np.round((offset - v) * SCALE),
            np.zeros(n_slots),
            np.zeros(n_mentors),
            np.full(n_users, offset * SCALE),
        ]
    ).astype(np.int64)
    flow = min_cost_flow.SimpleMinCostFlow()
    arcs = flow.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    supplies = np.zeros(mentor0 + n_mentors, dtype=np.int64)
    supplies[source], supplies[sink] = n_users, -n_users
    flow.set_nodes_supplies(np.arange(len(supplies)), supplies)
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise RuntimeError(f"min-cost flow failed with status {status}")
    used = flow.flows(arcs[n_users : n_users + len(r)]) > 0
    return r[used], c[used], v[used].astype(np.float32)
