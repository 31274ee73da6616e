"""Re-ranking features: what a coordinator looks at, computed for the pooled pairs only.

Retrieval (matching.candidates) scores the whole mentor table with the default bilinear weights. The
learned re-ranker then orders each newcomer's pool with these richer features: the mentor's track
record and standing, the newcomer's readiness, the product relation and how perishable it is, the
distance in km, region flags, and interactions a linear model could not form on its own.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from matching import taxonomy, vocab
from matching.features import (
    FEATURE_NAMES,
    FeatureSpace,
    group_pairs,
    index_bits,
    padded_categories,
    pair_features,
    shares_category,
)
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
# Features of the mentor alone and of the newcomer alone, each a contiguous run of columns.
MENTOR_COLUMNS = RERANK_FEATURE_NAMES[_COL["years_selling"] : _COL["approval_rate"] + 1]
NEWCOMER_COLUMNS = RERANK_FEATURE_NAMES[_COL["newcomer_experience"] : _COL["courier_km"] + 1]
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


@cache
def _relation_bits() -> tuple[np.ndarray, np.ndarray] | None:
    """Per newcomer category, the uint64 bit sets of the mentor categories one chain link away and of
    those in its group (None over 64 categories): a pair's relation is then an AND per pair."""
    chain, group = taxonomy.chain_link_matrix(), _group_of_category()
    if len(group) > 64:
        return None
    bits = np.left_shift(np.uint64(1), np.arange(len(group), dtype=np.uint64))
    linked = np.bitwise_or.reduce(np.where(chain, bits[None, :], np.uint64(0)), axis=1)
    siblings = np.bitwise_or.reduce(
        np.where(group[:, None] == group[None, :], bits[None, :], np.uint64(0)), axis=1
    )
    return linked, siblings


def _relations(
    space: FeatureSpace, n_idx_u: np.ndarray, inv: np.ndarray, m: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(same product, chain link, same group) per pair: newcomer categories n_idx_u[inv], mentor rows m."""
    masks = _relation_bits()
    if masks is not None and space.m_cat_bits is not None:
        valid, safe = n_idx_u >= 0, np.maximum(n_idx_u, 0)
        mb = space.m_cat_bits[m]
        n_bits = index_bits(n_idx_u, len(taxonomy.CATEGORIES))
        n_chain, n_group = (
            np.bitwise_or.reduce(np.where(valid, x[safe], np.uint64(0)), axis=1) for x in masks
        )
        return (n_bits[inv] & mb) != 0, (n_chain[inv] & mb) != 0, (n_group[inv] & mb) != 0
    chain, group = taxonomy.chain_link_matrix(), _group_of_category()
    ni, mi = n_idx_u[inv], space.m_cat_idx[m]
    linked = np.zeros(len(m), bool)
    grp = np.zeros(len(m), bool)
    for a in range(ni.shape[1]):
        for b in range(mi.shape[1]):
            ok = (ni[:, a] >= 0) & (mi[:, b] >= 0)
            x, y = np.maximum(ni[:, a], 0), np.maximum(mi[:, b], 0)
            linked |= ok & chain[x, y]
            grp |= ok & (group[x] == group[y])
    return shares_category(ni, mi), linked, grp


def _mentor_table(mentors: MentorTable, policy: Policy) -> np.ndarray:
    """(M, len(MENTOR_COLUMNS)) float32: each mentor's own re-ranking features."""
    yes, no = mentors.past_approvals.astype(np.float64), mentors.past_declines.astype(np.float64)
    rate = mentors.track_record
    return np.stack(
        [
            mentors.years_selling,
            mentors.honours_count,
            mentors.honours_level,
            mentors.sales_band,
            mentors.kind == vocab.MENTOR_KINDS.index("cooperative"),
            mentors.kind == vocab.MENTOR_KINDS.index("enterprise"),
            np.where(np.isnan(rate), policy.track_prior, rate),
            mentors.fulfilment_periods,
            yes,
            no,
            (yes + 1.0) / (yes + no + 2.0),
        ],
        axis=1,
    ).astype(np.float32)


def _newcomer_table(newcomers: NewcomerTable) -> np.ndarray:
    """(N, len(NEWCOMER_COLUMNS)) float32: each newcomer's own re-ranking features."""
    courier = newcomers.courier_km
    return np.stack(
        [
            newcomers.experience_years,
            newcomers.internet,
            np.where(np.isnan(courier), COURIER_KM_UNKNOWN, courier),
        ],
        axis=1,
    ).astype(np.float32)


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
    base = out[:, 1 : 1 + len(FEATURE_NAMES)]  # filled in place: no copy of a million rows
    pair_features(
        space, mentors, newcomers, mentor_rows, newcomer_rows, n_text_all=n_text_all, km=km, out=base
    )
    out[:, 0] = WeightedScorer(policy.weights).score(base)
    perish = taxonomy.perishability()
    for start in range(0, len(mentor_rows), _CHUNK):
        m, n = mentor_rows[start : start + _CHUNK], newcomer_rows[start : start + _CHUNK]
        o = out[start : start + _CHUNK]
        un, inv = group_pairs(n)
        n_idx_u = padded_categories(newcomers.categories, un)
        same, linked, grp = _relations(space, n_idx_u, inv, m)
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
    # Mentor-only and newcomer-only columns: one gather of a small per-profile table each.
    lo, hi = _COL[MENTOR_COLUMNS[0]], _COL[MENTOR_COLUMNS[-1]] + 1
    o[:, lo:hi] = _mentor_table(mentors, policy)[mentor_rows]
    lo, hi = _COL[NEWCOMER_COLUMNS[0]], _COL[NEWCOMER_COLUMNS[-1]] + 1
    o[:, lo:hi] = _newcomer_table(newcomers)[newcomer_rows]
    o[:, _COL["perishable_x_distance"]] = o[:, _COL["perishable"]] * km
    o[:, _COL["cold_chain_gap"]] = (o[:, _COL["perishable"]] >= 1.0) & ~offered[
        :, vocab.RESOURCE_TYPES.index("logistics")
    ]
    o[:, _COL["experience_gap"]] = o[:, _COL["years_selling"]] - o[:, _COL["newcomer_experience"]]
    return out


def column(name: str) -> int:
    """Position of a named re-ranking feature."""
    return _COL[name]
