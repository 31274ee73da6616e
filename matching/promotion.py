"""The promotion gate: a newly trained re-ranker becomes active only if it beats the active one.

Both are scored on the candidate's held-out decisions (never used to fit it): the candidate must
reach MIN_AUC, beat the active model's AUC, and approve at least as often at the top of the pool.
With no active model the default scorer is the one to beat. Otherwise it stays a candidate.

A model trained on another label than approval (the success of approved matches) is also checked on
coordinators' decisions it never saw: at its top they must approve at least as often as at the top
of the one it would replace, so a better label never costs approvals unnoticed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from matching.evaluation import approval_at_top, ranker_metrics
from matching.ranker import LearnedRanker
from matching.rerank import column

MIN_AUC = 0.6
MIN_HOLDOUT = 30
AUC_MARGIN = 0.005  # ties (or noise-level gains) keep the active model


@dataclass(frozen=True)
class GateResult:
    """The gate's verdict with both sides' held-out figures."""

    promote: bool
    reasons: list[str]
    candidate: dict[str, float] = field(default_factory=dict)
    active: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, stored with the version."""
        return {
            "promote": self.promote,
            "reasons": self.reasons,
            "candidate": self.candidate,
            "active": self.active,
        }


def _figures(scores: np.ndarray, y: np.ndarray) -> dict[str, float]:
    return {"auc": ranker_metrics(scores, y)["auc"], "approval_at_top": approval_at_top(scores, y)}


def gate(
    candidate: LearnedRanker,
    active: LearnedRanker | None,
    features: np.ndarray,
    approved: np.ndarray,
    *,
    approvals: tuple[np.ndarray, np.ndarray] | None = None,
) -> GateResult:
    """Compare candidate and active (or the default scorer) on the candidate's held-out decisions.

    approvals: (features, approved) of coordinators' decisions the candidate was not trained on, for a
    candidate trained on outcome labels (see the module docstring).
    """
    rows = np.asarray(candidate.metrics.get("holdout_rows", []), dtype=np.int64)
    x, y = np.asarray(features)[rows], np.asarray(approved, bool)[rows]
    if len(rows) < MIN_HOLDOUT or not 0 < y.sum() < len(y):
        return GateResult(False, [f"too few held-out decisions with both outcomes ({len(rows)})"])
    cand = _figures(candidate.score(x), y)
    base = _figures(active.score(x) if active is not None else x[:, column("default_score")], y)
    who = "active model" if active is not None else "default scorer"
    reasons = []
    if not cand["auc"] >= MIN_AUC:
        reasons.append(f"held-out AUC {cand['auc']:.3f} below the floor {MIN_AUC}")
    if not cand["auc"] > base["auc"] + AUC_MARGIN:
        reasons.append(f"held-out AUC {cand['auc']:.3f} does not beat the {who}'s {base['auc']:.3f}")
    if not cand["approval_at_top"] >= base["approval_at_top"]:
        reasons.append(
            f"approval at the top {cand['approval_at_top']:.3f} "
            f"below the {who}'s {base['approval_at_top']:.3f}"
        )
    if approvals is not None:
        xa, ya = np.asarray(approvals[0]), np.asarray(approvals[1], bool)
        if len(ya) < MIN_HOLDOUT or not 0 < ya.sum() < len(ya):
            reasons.append(f"too few unseen coordinator decisions to check approvals ({len(ya)})")
        else:
            base_scores = active.score(xa) if active is not None else xa[:, column("default_score")]
            cand["coordinators_at_top"] = approval_at_top(candidate.score(xa), ya)
            base["coordinators_at_top"] = approval_at_top(base_scores, ya)
            if not cand["coordinators_at_top"] >= base["coordinators_at_top"]:
                reasons.append(
                    f"coordinators approve less at its top: {cand['coordinators_at_top']:.3f} "
                    f"below the {who}'s {base['coordinators_at_top']:.3f}"
                )
    promote = not reasons
    if promote:
        reasons.append(
            f"beats the {who}: AUC {cand['auc']:.3f} > {base['auc']:.3f}, approval at the top "
            f"{cand['approval_at_top']:.3f} >= {base['approval_at_top']:.3f}"
        )
    return GateResult(promote, reasons, cand, base)
