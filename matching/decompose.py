"""Assignment above one process's arc limit: independent components, then regions with split seats.

1. **Components (exact).** Two candidate arcs interact only through a shared newcomer or mentor (its
   seats and its diversity slots). The connected components of the newcomer-mentor candidate graph are
   therefore independent problems, and solving each alone gives the global optimum. Small components are
   packed together into problems of at most `arc_limit` arcs.
2. **Regions (approximate).** A component above the limit (a national run has one giant component) is
   cut into regions: runs of newcomer (county, primary category) keys in code order, so a province's
   counties stay together, each region within the limit. Regions never share a diversity slot (its key
   holds the newcomer's county), only mentor seats. A first pass splits each mentor's seats between the
   regions that want it, in proportion to its candidate arcs from each (largest remainder, in integers);
   each region is then solved exactly with its share. A repair pass offers the seats left unused to the
   newcomers left unmatched (again by components and regions). bench/RESULTS.md states the loss against
   the exact optimum.

Problems are independent, so a `mapper` may solve them anywhere (matching.distributed sends them to a
cluster); the default solves them one after another in this process.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from matching.flow import solve_arcs

Problem = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
Mapper = Callable[[Callable[..., np.ndarray], Sequence[Problem]], list[np.ndarray]]
REPAIR_PASSES = 2


def serial_map(fn: Callable[..., np.ndarray], problems: Sequence[Problem]) -> list[np.ndarray]:
    """Solve the problems one after another in this process."""
    return [fn(*p) for p in problems]


def component_of_arcs(user: np.ndarray, mentor: np.ndarray) -> np.ndarray:
    """Connected-component label of each arc in the bipartite newcomer-mentor graph."""
    _, u_node = np.unique(user, return_inverse=True)
    _, m_node = np.unique(mentor, return_inverse=True)
    n_u, n_m = int(u_node.max()) + 1, int(m_node.max()) + 1
    graph = sp.coo_matrix(
        (np.ones(len(user), np.int8), (u_node, n_u + m_node)), shape=(n_u + n_m, n_u + n_m)
    ).tocsr()
    _, label = connected_components(graph, directed=True, connection="weak")
    return label[u_node]


def _pack(sizes: np.ndarray, limit: int) -> np.ndarray:
    """Group number of each item, consecutive items packed while their total stays within limit."""
    group = np.zeros(len(sizes), np.int64)
    g, total = 0, 0
    for i, size in enumerate(sizes.tolist()):
        if total and total + size > limit:
            g, total = g + 1, 0
        group[i] = g
        total += size
    return group


def split_seats(group: np.ndarray, mentor: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Per arc: the seats of its mentor given to its group, in proportion to the group's arcs to it.

    Integer largest-remainder shares (ties to the lower group number); a group never gets more seats
    of a mentor than it has arcs to that mentor, and the shares of a mentor add up to min(seats, arcs).
    """
    n_groups = int(group.max()) + 1
    pairs, pair_of_arc, demand = np.unique(
        mentor.astype(np.int64) * n_groups + group, return_inverse=True, return_counts=True
    )
    pair_mentor, pair_group = pairs // n_groups, pairs % n_groups
    _, mentor_of_pair = np.unique(pair_mentor, return_inverse=True)
    seats = np.zeros(int(mentor_of_pair.max()) + 1, np.int64)
    seats[mentor_of_pair[pair_of_arc]] = capacity
    total = np.bincount(mentor_of_pair, weights=demand).astype(np.int64)
    c = seats[mentor_of_pair]
    want = c * demand
    share = np.minimum(demand, want // total[mentor_of_pair])
    left = np.minimum(seats, total) - np.bincount(mentor_of_pair, weights=share).astype(np.int64)
    # The seats left by rounding go to the groups with the largest remainders, one each.
    order = np.lexsort((pair_group, -(want % total[mentor_of_pair]), mentor_of_pair))
    start = np.searchsorted(mentor_of_pair[order], np.arange(len(seats)))
    rank = np.empty(len(pairs), np.int64)
    rank[order] = np.arange(len(pairs)) - start[mentor_of_pair[order]]
    share += (rank < left[mentor_of_pair]) & (share < demand)
    return share[pair_of_arc]


def _by_group(group: np.ndarray) -> list[np.ndarray]:
    """Positions of each group's items (groups numbered 0..G-1), each in increasing order."""
    order = np.argsort(group, kind="stable")
    cuts = np.cumsum(np.bincount(group))[:-1]
    return np.split(order, cuts)


def assign_decomposed(
    user: np.ndarray,
    mentor: np.ndarray,
    value: np.ndarray,
    slot: np.ndarray,
    capacity: np.ndarray,
    region: np.ndarray,
    *,
    arc_limit: int,
    mapper: Mapper = serial_map,
    repair_passes: int = REPAIR_PASSES,
) -> np.ndarray:
    """Chosen arcs (bool mask) by components and, above arc_limit, regions; arrays as flow.solve_arcs.

    region: int64 key of the arc's newcomer region (county, then primary category); regions must not
    cut a diversity slot.
    """
    used = np.zeros(len(user), bool)
    if len(user) == 0:
        return used
    label = component_of_arcs(user, mentor)
    sizes = np.bincount(label)
    big = sizes > arc_limit
    # Small components: exact; packed into as few problems as the limit allows.
    batch = np.full(len(sizes), -1, np.int64)
    batch[~big] = _pack(sizes[~big], arc_limit)
    in_small = np.flatnonzero(~big[label])
    problems = []
    if len(in_small):
        problems = [(in_small[p], capacity[in_small[p]]) for p in _by_group(batch[label][in_small])]
    # Large components: regions (runs of region keys, within the limit) with split seats.
    split = np.flatnonzero(big[label])
    if len(split):
        for comp in _by_group(np.unique(label[split], return_inverse=True)[1]):
            idx = split[comp]
            _, run_of_arc, run_size = np.unique(region[idx], return_inverse=True, return_counts=True)
            group = _pack(run_size, arc_limit)[run_of_arc]
            share = split_seats(group, mentor[idx], capacity[idx])
            problems += [(idx[g], share[g]) for g in _by_group(group)]
    solved = mapper(solve_arcs, [(user[i], mentor[i], value[i], slot[i], seats) for i, seats in problems])
    for (idx, _), chosen in zip(problems, solved, strict=True):
        used[idx[chosen]] = True
    if len(split) and repair_passes > 0:
        rest = _residual(split, used, user, mentor, slot, capacity)
        if len(rest):
            more = assign_decomposed(
                user[rest],
                mentor[rest],
                value[rest],
                slot[rest],
                capacity[rest] - _seats_taken(used, mentor, mentor[rest]),
                region[rest],
                arc_limit=arc_limit,
                mapper=mapper,
                repair_passes=repair_passes - 1,
            )
            used[rest[more]] = True
    return used


def _seats_taken(used: np.ndarray, mentor: np.ndarray, of: np.ndarray) -> np.ndarray:
    """Seats already taken (by the used arcs) of each mentor in `of`."""
    taken, counts = np.unique(mentor[used], return_counts=True)
    if len(taken) == 0:
        return np.zeros(len(of), np.int64)
    pos = np.minimum(np.searchsorted(taken, of), len(taken) - 1)
    return np.where(taken[pos] == of, counts[pos], 0)


def _residual(
    idx: np.ndarray,
    used: np.ndarray,
    user: np.ndarray,
    mentor: np.ndarray,
    slot: np.ndarray,
    capacity: np.ndarray,
) -> np.ndarray:
    """Arcs of idx still open: newcomer unmatched, mentor with a seat left, slot unused."""
    matched_users = user[used]
    taken = _seats_taken(used, mentor, mentor[idx])
    open_ = ~np.isin(user[idx], matched_users) & (capacity[idx] - taken > 0) & ~np.isin(slot[idx], slot[used])
    return idx[open_]
