"""The min-cost-flow network of the assignment, solved for any set of candidate arcs.

Network: source -> newcomer (cap 1) -> diversity slot (mentor, newcomer county, newcomer primary
category; cap 1) -> mentor (cap = capacity left) -> sink, plus newcomer -> sink "unmatched" (cap 1).
A slot used by a single candidate arc cannot be over-filled, so that arc goes straight to the mentor;
this keeps the network small without changing the feasible set.

Arcs come in as flat arrays, so a caller can solve all of them at once (matching.assign) or independent
subsets separately (matching.decompose): every arc of one slot shares its mentor, so a subset closed
under "same mentor" or "same newcomer county" never cuts a slot.
"""

from __future__ import annotations

import numpy as np
from ortools.graph.python import min_cost_flow

from matching.types import NewcomerTable

SCALE = 10_000  # integer costs: scores are resolved to 1e-4


def diversity_keys(
    mentor_rows: np.ndarray, newcomers: NewcomerTable, newcomer_rows: np.ndarray
) -> np.ndarray:
    """int64 key of the (mentor, newcomer county, newcomer primary category) slot of each pair."""
    cat = newcomers.primary_category[newcomer_rows].astype(np.int64) + 1  # -1 (no product) -> 0
    return (mentor_rows.astype(np.int64) * 1_000_000 + newcomers.county[newcomer_rows]) * 128 + cat


def solve_arcs(
    user: np.ndarray, mentor: np.ndarray, value: np.ndarray, slot: np.ndarray, capacity: np.ndarray
) -> np.ndarray:
    """Optimal choice of arcs (bool mask): at most one per user, one per slot, capacity per mentor.

    user: newcomer label of each arc; mentor: mentor row; value (> 0): what a match is worth; slot:
    diversity key; capacity: seats of the arc's mentor (equal on all arcs of one mentor).
    Maximises the total value (resolved to 1/SCALE).
    """
    if len(user) == 0:
        return np.zeros(0, bool)
    v = np.asarray(value, dtype=np.float64)
    n_users, user_node = _labels(np.asarray(user))
    n_mentors, mentor_node = _labels(np.asarray(mentor))
    mentor_first = np.zeros(n_mentors, np.int64)
    mentor_first[mentor_node] = np.arange(len(mentor_node))  # any arc of a mentor: they share its seats
    slot_of_arc, slot_first, slot_count = _groups(np.asarray(slot))
    shared = slot_count[slot_of_arc] > 1
    is_shared = slot_count > 1
    shared_inv = (np.cumsum(is_shared) - 1)[slot_of_arc[shared]]
    slot_mentor = mentor_node[slot_first[is_shared]]
    n_slots = int(is_shared.sum())
    source, sink = 0, 1
    user0, slot0 = 2, 2 + n_users
    mentor0 = slot0 + n_slots
    # Every newcomer sends one unit, through a pair or the unmatched arc, so the offset only shifts the
    # objective by a constant: any subset of arcs gets the same optimum whatever its own offset.
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
            np.ones(len(user)),
            np.ones(n_slots),
            np.asarray(capacity)[mentor_first],
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
    return flow.flows(arcs[n_users : n_users + len(user)]) > 0


def _labels(x: np.ndarray) -> tuple[int, np.ndarray]:
    """(number of distinct values, each item's rank among them): np.unique's inverse, without its sort
    when the values are small non-negative integers (row numbers) or already sorted (one per newcomer)."""
    if len(x) == 0:
        return 0, np.zeros(0, np.int64)
    if x.dtype.kind in "iu" and x.min() >= 0 and x.max() < 4 * len(x) + 1024:
        present = np.zeros(int(x.max()) + 1, bool)
        present[x] = True
        return int(present.sum()), (np.cumsum(present) - 1)[x]
    if np.all(x[1:] >= x[:-1]):
        label = np.concatenate([[0], np.cumsum(x[1:] != x[:-1])])
        return int(label[-1]) + 1, label
    values, inverse = np.unique(x, return_inverse=True)
    return len(values), inverse.reshape(-1)


def _groups(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rank of each item's value, first item of each value, items per value), values in ascending
    order: np.unique's inverse, index and counts from one stable sort."""
    order = np.argsort(x, kind="stable")
    ordered = x[order]
    new = np.ones(len(x), bool)
    new[1:] = ordered[1:] != ordered[:-1]
    label = np.empty(len(x), np.int64)
    label[order] = np.cumsum(new) - 1
    starts = np.flatnonzero(new)
    return label, order[starts], np.diff(np.append(starts, len(x)))
