"""Rounds of propose -> persona decides -> retrain -> gate, with a control arm on the same scope and state.

Round 1 runs the default scorer in both arms. After each round a candidate re-ranker is fitted on all
of the learned arm's decisions so far; the gate promotes it only if it beats the active model (or the
default) on held-out decisions. The control arm always runs the default scorer, on the same scope
and the same starting state, and its decisions never train anything.

Two kinds of label: "approval" (the persona's decisions) or "outcome" (of the approved pairs, whether
the match succeeded, drawn from a simulate.Outcome). With an outcome model both arms also report the
success rate of their approved pairs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from matching.evaluation import evaluate
from matching.features import FeatureSpace
from matching.pipeline import propose
from matching.promotion import gate
from matching.ranker import LearnedRanker
from matching.rerank import rerank_features
from matching.simulate import Outcome, Persona
from matching.types import MentorTable, NewcomerTable, Policy


@dataclass
class RoundResult:
    """One round's figures for both arms."""

    round: int
    learned_approval: float
    control_approval: float
    lift: float
    lift_low: float
    lift_high: float
    active_version: str | None
    candidate_auc: float | None = None
    promoted: bool | None = None
    gate_reasons: list[str] = field(default_factory=list)
    learned_eval: dict[str, float] = field(default_factory=dict)
    control_eval: dict[str, float] = field(default_factory=dict)
    # With an outcome model: success rate among each arm's approved pairs, and the lift's interval.
    learned_success: float | None = None
    control_success: float | None = None
    success_low: float | None = None
    success_high: float | None = None


def bootstrap_lift(a: np.ndarray, b: np.ndarray, seed: int = 0, n: int = 1000) -> tuple[float, float]:
    """95% bootstrap interval of mean(a) - mean(b) for two independent samples of 0/1 outcomes."""
    if len(a) == 0 or len(b) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    ma = rng.binomial(len(a), a.mean(), n) / len(a)
    mb = rng.binomial(len(b), b.mean(), n) / len(b)
    lo, hi = np.quantile(ma - mb, [0.025, 0.975])
    return float(lo), float(hi)


def _decide(
    persona: Persona, space: FeatureSpace, newcomers: NewcomerTable, ps: Any, policy: Policy, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    feats = rerank_features(space, ps.mentors, newcomers, ps.mentor_row, ps.newcomer_row, policy)
    approved, reasons = persona.decide(feats, ps.newcomer_id, ps.mentor_id, seed)
    return feats, approved, reasons


def run_rounds(
    persona: Persona,
    mentors: MentorTable,
    scopes: list[NewcomerTable],
    policy: Policy | None = None,
    *,
    seed: int = 0,
    outcome: Outcome | None = None,
    label: str = "approval",
) -> list[RoundResult]:
    """One round per scope (pass the same table repeatedly for a repeated scope).

    label="outcome" trains on outcomes (needs outcome) instead of approvals: a proposal succeeded when it
    was approved and the match then succeeded.
    """
    if label not in ("approval", "outcome") or (label == "outcome" and outcome is None):
        raise ValueError("label is 'approval', or 'outcome' with an outcome model")
    policy = policy or Policy()
    space = FeatureSpace.fit(mentors, policy, seed)  # what the persona sees: fitted once, like the text model
    active: LearnedRanker | None = None
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    rs: list[np.ndarray] = []
    gs: list[np.ndarray] = []
    out: list[RoundResult] = []
    aps: list[np.ndarray] = []  # coordinators' decisions (approved) of every training row
    for r, newcomers in enumerate(scopes, start=1):
        run_seed = seed * 100 + r
        learned = propose(mentors, newcomers, policy, ranker=active, seed=run_seed)
        control = propose(mentors, newcomers, policy, seed=run_seed)
        x, y, why = _decide(persona, space, newcomers, learned, policy, seed)
        x_control, y_control, _ = _decide(persona, space, newcomers, control, policy, seed)
        lo, hi = bootstrap_lift(y.astype(float), y_control.astype(float), seed=run_seed)
        result = RoundResult(
            r,
            float(y.mean()) if len(y) else float("nan"),
            float(y_control.mean()) if len(y_control) else float("nan"),
            float(y.mean() - y_control.mean()) if len(y) and len(y_control) else float("nan"),
            lo,
            hi,
            None if active is None else active.version,
            learned_eval=evaluate(learned, mentors, newcomers),
            control_eval=evaluate(control, mentors, newcomers),
        )
        ids, approved_now = learned.newcomer_id, y
        if outcome is not None:
            ok = outcome.succeeded(x, learned.newcomer_id, learned.mentor_id, seed)[y]
            ok_control = outcome.succeeded(x_control, control.newcomer_id, control.mentor_id, seed)[y_control]
            result.learned_success = float(ok.mean()) if len(ok) else float("nan")
            result.control_success = float(ok_control.mean()) if len(ok_control) else float("nan")
            result.success_low, result.success_high = bootstrap_lift(
                ok.astype(float), ok_control.astype(float), seed=run_seed
            )
            if label == "outcome":
                # A proposal's outcome: approved and then successful; a rejected proposal is a failure.
                # Trained on approved pairs alone, the model chased success among pairs coordinators
                # reject and cost 7 points of approval (bench/RESULTS.md).
                y = y & outcome.succeeded(x, learned.newcomer_id, learned.mentor_id, seed)
        # Round-tagged groups: one newcomer's decisions of one round stay on one side of every split.
        xs.append(x), ys.append(y), rs.append(why), gs.append(ids * 100 + r), aps.append(approved_now)
        features, labels = np.vstack(xs), np.concatenate(ys)
        candidate = LearnedRanker.fit(
            features,
            labels,
            groups=np.concatenate(gs),
            reasons=np.concatenate(rs),
            newest=np.arange(len(labels)) >= len(labels) - len(y),
            version=f"{persona.name}-r{r}",
            seed=seed,
        )
        # With outcome labels the gate also checks coordinators' approvals on the held-out rows.
        held = np.asarray(candidate.metrics.get("holdout_rows", []), np.int64)
        approvals = (features[held], np.concatenate(aps)[held]) if label == "outcome" else None
        verdict = gate(candidate, active, features, labels, approvals=approvals)
        result.candidate_auc, result.promoted, result.gate_reasons = (
            float(candidate.metrics["auc"]),
            verdict.promote,
            verdict.reasons,
        )
        if verdict.promote:
            active = candidate
        out.append(result)
    return out
