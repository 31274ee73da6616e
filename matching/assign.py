"""Global capacity- and diversity-constrained assignment by min-cost flow (not greedy).

The network is matching.flow's: source -> newcomer -> diversity slot -> mentor -> sink, plus an
"unmatched" arc per newcomer. Up to `arc_limit` candidate arcs (None: no limit) it is solved as one
problem, exactly; above it matching.decompose solves independent components exactly and cuts a component
that is still too large into regions with split mentor seats (its loss is measured in bench/RESULTS.md).

Objective: maximise the sum of pair values, value = ranking score + equity bonus, where the equity
bonus of a newcomer is weights.equity * (4 - tier) / 4 and tier is the quintile (0 = least served) of
its county's e-commerce penetration (see score.equity_tiers). A pair is matched only if its value > 0.

Equity guarantee (what the bonus buys, exact up to cost rounding 1/SCALE): at an optimum, for every
unmatched newcomer u and every candidate mentor m of u whose slot (m, county(u), category(u)) is free,
each newcomer v assigned to m satisfies value(v, m) >= value(u, m); hence, when v is from a better
served tier, score(v, m) >= score(u, m) + weights.equity * (tier(v) - tier(u)) / 4. Otherwise swapping
u in for v would raise the objective. So an under-served newcomer is never left unmatched while a
better-served one takes a mentor it wanted at a lower score. (Within each component solved exactly this
holds as stated; across regions of a split component it holds inside each region.)
"""

from __future__ import annotations

import numpy as np

from matching.candidates import Candidates
from matching.decompose import Mapper, assign_decomposed, serial_map
from matching.flow import SCALE, diversity_keys, solve_arcs
from matching.types import MentorTable, NewcomerTable

__all__ = ["SCALE", "assign", "diversity_keys"]


def assign(
    cand: Candidates,
    values: np.ndarray,
    mentors: MentorTable,
    newcomers: NewcomerTable,
    *,
    arc_limit: int | None = None,
    mapper: Mapper = serial_map,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Optimal assignment; returns (index into cand rows, candidate column, value) of matched pairs.

    values: (n, k) pair values aligned with cand.mentor_rows (-inf or invalid where no candidate).
    arc_limit: most candidate arcs solved as one problem; mapper: where decomposed problems are solved.
    """
    valid = (cand.mentor_rows >= 0) & np.isfinite(values) & (values > 0)
    r, c = np.nonzero(valid)
    if len(r) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    m_rows = cand.mentor_rows[r, c]
    v = values[r, c].astype(np.float64)
    n_rows = cand.newcomer_rows[r]
    keys = diversity_keys(m_rows, newcomers, n_rows)
    seats = mentors.capacity_left[m_rows].astype(np.int64)
    if arc_limit is None or len(r) <= arc_limit:
        used = solve_arcs(r, m_rows, v, keys, seats)
    else:
        # A region is a (county, primary category) key: it never cuts a diversity slot.
        region = newcomers.county[n_rows].astype(np.int64) * 128 + newcomers.primary_category[n_rows] + 1
        used = assign_decomposed(r, m_rows, v, keys, seats, region, arc_limit=arc_limit, mapper=mapper)
    return r[used], c[used], v[used].astype(np.float32)
