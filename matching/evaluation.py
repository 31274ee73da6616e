"""Quality measures of a matching run and of a ranker."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from matching import taxonomy
from matching.assign import diversity_keys
from matching.score import EQUITY_TIERS, equity_tiers


def ranker_metrics(
    scores: np.ndarray, approved: np.ndarray, groups: np.ndarray | None = None, k: int = 1
) -> dict[str, float]:
    """ROC AUC, and precision@k: share approved among each group's k best-scored pairs, averaged."""
    y = np.asarray(approved, dtype=bool)
    out = {"auc": float(roc_auc_score(y, scores)) if 0 < y.sum() < len(y) else float("nan")}
    if groups is not None and len(y):
        order = np.lexsort((-np.asarray(scores), groups))
        g, yy = np.asarray(groups)[order], y[order]
        starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
        pos = np.arange(len(g)) - np.repeat(starts, np.diff(np.r_[starts, len(g)]))
        top = pos < k
        hits = np.bincount(
            np.searchsorted(starts, np.flatnonzero(top), side="right") - 1,
            weights=yy[top],
            minlength=len(starts),
        )
        sizes = np.minimum(np.diff(np.r_[starts, len(g)]), k)
        out[f"precision_at_{k}"] = float(np.mean(hits / sizes))
    return out


TOP_SHARE = 0.3  # "the top of the pool": the best-scored 30% of held-out decisions


def approval_at_top(scores: np.ndarray, approved: np.ndarray, share: float = TOP_SHARE) -> float:
    """Approval rate among the best-scored share of decided pairs (ties broken by position)."""
    y = np.asarray(approved, dtype=bool)
    if len(y) == 0:
        return float("nan")
    n = max(1, round(share * len(y)))
    top = np.argsort(-np.asarray(scores, np.float64), kind="stable")[:n]
    return float(y[top].mean())


def evaluate(proposals: Any, mentors: Any, newcomers: Any) -> dict[str, float]:
    """Coverage, mean score, cross-regional shares, diversity violations, equity, capacity use."""
    n_rows, m_rows = proposals.newcomer_row, proposals.mentor_row
    eligible = ~newcomers.has_active_mentor
    matched = np.zeros(len(newcomers), dtype=bool)
    matched[n_rows] = True
    tiers = equity_tiers(newcomers)
    rates = [
        matched[eligible & (tiers == t)].mean() if (eligible & (tiers == t)).any() else np.nan
        for t in range(EQUITY_TIERS)
    ]
    keys = diversity_keys(m_rows, newcomers, n_rows)
    n_cnty, m_cnty = newcomers.county[n_rows], mentors.county[m_rows]
    rel = taxonomy.relation_matrix()
    chain = ((rel == taxonomy.RELATION_DOWNSTREAM) | (rel == taxonomy.RELATION_UPSTREAM)).astype(np.float32)
    n_cat = newcomers.categories[n_rows]
    m_cat = mentors.categories[m_rows]
    has_chain = np.asarray(m_cat.multiply(n_cat @ chain).sum(axis=1)).ravel() > 0
    has_same = np.asarray(n_cat.multiply(m_cat).sum(axis=1)).ravel() > 0
    groups = np.array([taxonomy.group_index()[c.parent] for c in taxonomy.CATEGORIES])
    g_onehot = (groups[:, None] == np.arange(len(taxonomy.GROUPS))[None, :]).astype(np.float32)
    has_group = (
        np.asarray(((n_cat @ g_onehot) > 0).astype(np.float32) * ((m_cat @ g_onehot) > 0)).sum(axis=1) > 0
    )
    sibling = has_group & ~has_same & ~has_chain
    capacity = mentors.capacity_left[mentors.capacity_left > 0].sum()
    load = np.bincount(m_rows, minlength=len(mentors))
    total = max(len(proposals), 1)
    return {
        "proposals": float(len(proposals)),
        "coverage": float(matched[eligible].mean()) if eligible.any() else float("nan"),
        "mean_score": float(np.mean(proposals.score)) if len(proposals) else float("nan"),
        "cross_county_share": float((n_cnty != m_cnty).sum() / total),
        "cross_prefecture_share": float((n_cnty // 100 != m_cnty // 100).sum() / total),
        "cross_province_share": float((n_cnty // 10000 != m_cnty // 10000).sum() / total),
        "complementary_share": float((has_chain & ~has_same).sum() / total),
        "same_product_share": float(has_same.sum() / total),
        # The three relations of the pairing modes, disjoint: same product, else chain link, else sibling.
        "chain_linked_share": float((has_chain & ~has_same).sum() / total),
        "sibling_share": float(sibling.sum() / total),
        "exploration_share": float(np.mean(proposals.explored)) if len(proposals) else 0.0,
        "same_prefecture_identical": float((has_same & (n_cnty // 100 == m_cnty // 100)).sum()),
        "diversity_violations": float(len(keys) - len(np.unique(keys))),
        "capacity_violations": float((load > np.maximum(mentors.capacity_left, 0)).sum()),
        "equity_ratio": float(rates[0] / rates[-1])
        if rates[-1] and not np.isnan(rates[-1])
        else float("nan"),
        "match_rate_least_served": float(rates[0]),
        "match_rate_best_served": float(rates[-1]),
        "capacity_utilisation": float(len(proposals) / capacity) if capacity else float("nan"),
    }
