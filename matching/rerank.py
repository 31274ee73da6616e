"""Re-ranking features: what a coordinator looks at, computed for the pooled pairs only.

Retrieval (matching.candidates) scores the whole mentor table with the default bilinear weights. The
learned re-ranker then orders each newcomer's pool with these richer features: the mentor's track
record and standing, the newcomer's readiness, the product relation and how perishable it is, the
distance in km, region flags, and interactions a linear model could not form on its own.
"""

from __future__ import annotations

import numpy as np

from matching import taxonomy, vocab
from matching.features import FEATURE_NAMES, FeatureSpace, padded_categories, pair_features, shares_category
from matching.regions import haversine_km
from matching.score import WeightedScorer
from matching.types import MentorTable, NewcomerTable, Policy

RERANK_FEATURE_NAMES: tuple[str, ...] = (
    "default_score",  # the default scorer's value: shrinkage pulls toward it
    *FEATURE_NAMES,
    "uncovered_needs",  # needed resource types the mentor does not offer
    "distance_km",
    "same_product",
    "chain_link",
    "sibling",
    "same_province",
    "corridor",
    "years_selling",
    "honours_count",
    "honours_level",
    "sales_band",
    "kind_cooperative",
    "kind_enterprise",
    "fulfilment_rate",
    "fulfilment_periods",
    "past_approvals",
    "past_declines",
    "approval_rate",  # (approvals + 1) / (approvals + declines + 2)
    "newcomer_experience",
    "internet",
    "courier_km",
    "perishable",
    "perishable_x_distance",
    "cold_chain_gap",  # perishable product, mentor offers no logistics
    "experience_gap",  # mentor years selling minus newcomer experience
)
_COL = {name: i for i, name in enumerate(RERANK_FEATURE_NAMES)}
# Known directions, used as monotonic constraints so noise cannot flip them (+1 more is better).
MONOTONIC: dict[str, int] = {
    "default_score": 1,
    "resources": 1,
    **{f"need_{r}_met": 1 for r in vocab.RESOURCE_TYPES},
    "uncovered_needs": -1,
    "track": 1,
    "fulfilment_rate": 1,
    "homogenization": -1,
    "distance_km": -1,
    "perishable_x_distance": -1,
    "cold_chain_gap": -1,
    "honours_count": 1,
    "honours_level": 1,
    "past_declines": -1,
    "approval_rate": 1,
}
_CHUNK = 65_536  # pairs per step: the gathered arrays stay in cache
COURIER_KM_UNKNOWN = 10.0  # a typical township courier point, for newcomers who did not say


def _group_of_category() -> np.ndarray:
    """(C,) int64: the group of each leaf."""
    groups = taxonomy.group_index()
    return np.array([groups[c.parent] for c in taxonomy.CATEGORIES], np.int64)


def corridor_flags(policy: Policy, n_county: np.ndarray, m_county: np.ndarray) -> np.ndarray:
    """True where the newcomer's and the mentor's regions are the two ends of one of the corridors."""
    out = np.zeros(len(n_county), bool)
    for a, b in policy.corridors:
        da, db = 10 ** (6 - len(a)), 10 ** (6 - len(b))
        ia, ib = int(a), int(b)
        out |= ((n_county // da) == ia) & ((m_county // db) == ib)
        out |= ((n_county // db) == ib) & ((m_county // da) == ia)
    return out


def rerank_features(
    space: FeatureSpace,
    mentors: MentorTable,
    newcomers: NewcomerTable,
    mentor_rows: np.ndarray,
    newcomer_rows: np.ndarray,
    policy: Policy,
    *,
    n_text_all: np.ndarray | None = None,
) -> np.ndarray:
    """(n_pairs, len(RERANK_FEATURE_NAMES)) float32 features of (mentor row, newcomer row) pairs."""
    mentor_rows = np.asarray(mentor_rows, dtype=np.int64)
    newcomer_rows = np.asarray(newcomer_rows, dtype=np.int64)
    # Column-major: every feature is written as one column, and scorers read them column by column.
    out = np.zeros((len(mentor_rows), len(RERANK_FEATURE_NAMES)), np.float32, order="F")
    if len(mentor_rows) == 0:
        return out
    km = haversine_km(
        newcomers.lat[newcomer_rows].astype(np.float64),
        newcomers.lon[newcomer_rows].astype(np.float64),
        mentors.lat[mentor_rows].astype(np.float64),
        mentors.lon[mentor_rows].astype(np.float64),
    )
    base = pair_features(space, mentors, newcomers, mentor_rows, newcomer_rows, n_text_all=n_text_all, km=km)
    out[:, 1 : 1 + len(FEATURE_NAMES)] = base
    out[:, 0] = WeightedScorer(policy.weights).score(base)
    chain = taxonomy.chain_link_matrix()
    group = _group_of_category()
    perish = taxonomy.perishability()
    m_idx = space.m_cat_idx
    for start in range(0, len(mentor_rows), _CHUNK):
        m, n = mentor_rows[start : start + _CHUNK], newcomer_rows[start : start + _CHUNK]
        o = out[start : start + _CHUNK]
        un, inv = np.unique(n, return_inverse=True)
        n_idx_u = padded_categories(newcomers.categories, un)
        ni, mi = n_idx_u[inv], m_idx[m]
        same = shares_category(ni, mi)
        linked = np.zeros(len(m), bool)
        grp = np.zeros(len(m), bool)
        for a in range(ni.shape[1]):
            for b in range(mi.shape[1]):
                ok = (ni[:, a] >= 0) & (mi[:, b] >= 0)
                x, y = np.maximum(ni[:, a], 0), np.maximum(mi[:, b], 0)
                linked |= ok & chain[x, y]
                grp |= ok & (group[x] == group[y])
        o[:, _COL["same_product"]] = same
        o[:, _COL["chain_link"]] = linked & ~same
        o[:, _COL["sibling"]] = grp & ~same & ~linked
        o[:, _COL["perishable"]] = np.where(n_idx_u >= 0, perish[np.maximum(n_idx_u, 0)], 0.0).max(axis=1)[
            inv
        ]
    need, offered = newcomers.resources[newcomer_rows], mentors.resources[mentor_rows]
    o = out
    o[:, _COL["uncovered_needs"]] = (need & ~offered).sum(axis=1)
    n_county, m_county = newcomers.county[newcomer_rows], mentors.county[mentor_rows]
    o[:, _COL["distance_km"]] = km
    o[:, _COL["same_province"]] = n_county // 10000 == m_county // 10000
    o[:, _COL["corridor"]] = corridor_flags(policy, n_county, m_county)
    o[:, _COL["years_selling"]] = mentors.years_selling[mentor_rows]
    o[:, _COL["honours_count"]] = mentors.honours_count[mentor_rows]
    o[:, _COL["honours_level"]] = mentors.honours_level[mentor_rows]
    o[:, _COL["sales_band"]] = mentors.sales_band[mentor_rows]
    kind = mentors.kind[mentor_rows]
    o[:, _COL["kind_cooperative"]] = kind == vocab.MENTOR_KINDS.index("cooperative")
    o[:, _COL["kind_enterprise"]] = kind == vocab.MENTOR_KINDS.index("enterprise")
    rate = mentors.track_record[mentor_rows]
    o[:, _COL["fulfilment_rate"]] = np.where(np.isnan(rate), policy.track_prior, rate)
    o[:, _COL["fulfilment_periods"]] = mentors.fulfilment_periods[mentor_rows]
    yes, no = mentors.past_approvals[mentor_rows], mentors.past_declines[mentor_rows]
    o[:, _COL["past_approvals"]] = yes
    o[:, _COL["past_declines"]] = no
    o[:, _COL["approval_rate"]] = (yes + 1.0) / (yes + no + 2.0)
    o[:, _COL["newcomer_experience"]] = newcomers.experience_years[newcomer_rows]
    o[:, _COL["internet"]] = newcomers.internet[newcomer_rows]
    courier = newcomers.courier_km[newcomer_rows]
    o[:, _COL["courier_km"]] = np.where(np.isnan(courier), COURIER_KM_UNKNOWN, courier)
    o[:, _COL["perishable_x_distance"]] = o[:, _COL["perishable"]] * km
    o[:, _COL["cold_chain_gap"]] = (o[:, _COL["perishable"]] >= 1.0) & ~offered[
        :, vocab.RESOURCE_TYPES.index("logistics")
    ]
    o[:, _COL["experience_gap"]] = o[:, _COL["years_selling"]] - o[:, _COL["newcomer_experience"]]
    return out


def column(name: str) -> int:
    """Position of a named re-ranking feature."""
    return _COL[name]
