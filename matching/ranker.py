"""Learned re-ranker: orders each newcomer's retrieved pool by the approval coordinators would give.

Two model families are fitted on the same decisions and the better one on a held-out selection split
is kept (recorded in metrics["chosen"] and metrics["why"]):
- gradient-boosted trees (scikit-learn's HistGradientBoostingClassifier) with monotonic constraints
  where the direction is known (rerank.MONOTONIC), so noise cannot flip "covers the needs" into a
  penalty; trees form thresholds and interactions (fresh produce x distance) by themselves;
- an L2-regularised logistic model on standardised features plus pairwise products of a few.

Guardrails live here too: the learned probability is blended with the default score by
alpha = n / (n + PRIOR_DECISIONS), so few decisions barely move the ranking. The hard rules are
applied after scoring (candidates.MentorIndex.rerank_learned) and are never features to learn away.

Trees run on one OpenMP thread: the data are small (thousands of decisions, a pool per newcomer), and
on a busy machine OpenMP's spinning threads cost more than they save (measured: 120 s of a 250 s bench
round was split-finding overhead).

Saved as a JSON-able dict (never a pickle): trees as a base64 skops archive loaded with an explicit
list of trusted types, the logistic model as plain coefficients.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import skops.io as sio
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupShuffleSplit, ShuffleSplit
from threadpoolctl import threadpool_limits

from matching.evaluation import approval_at_top
from matching.learned_words import describe, reason_models
from matching.rerank import MONOTONIC, RERANK_FEATURE_NAMES, column

FORMAT = "jieduan.matching.reranker/2"
PRIOR_DECISIONS = 300  # alpha reaches 1/2 at this many training decisions
# Products the logistic model gets on top of the features (the trees find interactions themselves).
INTERACTING = (
    "distance_km",
    "perishable",
    "resources",
    "years_selling",
    "honours_level",
    "newcomer_experience",
    "chain_link",
    "same_product",
    "need_logistics_met",
)
# The only non-builtin type a stored tree model may contain, checked before loading.
TRUSTED_TYPES = ("sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",)


def _pairs() -> list[tuple[int, int]]:
    cols = [column(n) for n in INTERACTING]
    return [(a, b) for i, a in enumerate(cols) for b in cols[i + 1 :]]


class _Logistic:
    """Standardised features and products -> logistic regression; plain arrays, JSON-able."""

    def __init__(self, mean: np.ndarray, scale: np.ndarray, coef: np.ndarray, intercept: float) -> None:
        self.mean, self.scale, self.coef, self.intercept = mean, scale, coef, intercept

    @staticmethod
    def expand(x: np.ndarray) -> np.ndarray:
        """Features plus the pairwise products of INTERACTING."""
        x = np.asarray(x, np.float64)
        return np.hstack([x, np.stack([x[:, a] * x[:, b] for a, b in _pairs()], axis=1)])

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, w: np.ndarray, seed: int) -> _Logistic:
        """Fit with C=0.3 (strong enough that a near-constant feature cannot get a huge weight)."""
        z = cls.expand(x)
        mean, scale = z.mean(axis=0), z.std(axis=0)
        scale[scale < 1e-6] = np.inf  # constant features get no weight at all
        model = LogisticRegression(C=0.3, max_iter=3000, random_state=seed)
        model.fit((z - mean) / scale, y, sample_weight=w)
        return cls(mean, scale, model.coef_[0], float(model.intercept_[0]))

    def proba(self, x: np.ndarray) -> np.ndarray:
        """Approval probability."""
        logit = self.intercept + ((self.expand(x) - self.mean) / self.scale) @ self.coef
        return 1.0 / (1.0 + np.exp(-logit))

    def to_dict(self) -> dict[str, Any]:
        """Plain lists (inf scales stored as 0: 'no weight')."""
        scale = np.where(np.isfinite(self.scale), self.scale, 0.0)
        return {
            "mean": self.mean.tolist(),
            "scale": scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> _Logistic:
        """Inverse of to_dict."""
        scale = np.array(d["scale"], np.float64)
        return cls(
            np.array(d["mean"]), np.where(scale > 0, scale, np.inf), np.array(d["coef"]), d["intercept"]
        )


def _fit_trees(x: np.ndarray, y: np.ndarray, w: np.ndarray, seed: int) -> HistGradientBoostingClassifier:
    monotonic = [MONOTONIC.get(name, 0) for name in RERANK_FEATURE_NAMES]
    model = HistGradientBoostingClassifier(
        learning_rate=0.06,
        max_iter=150,
        max_leaf_nodes=12,
        min_samples_leaf=25,
        l2_regularization=1.0,
        monotonic_cst=monotonic,
        early_stopping=False,  # deterministic, and the selection split does the checking
        random_state=seed,
    )
    # Unit weights go in as None: weighted binning takes a much slower percentile path.
    weights = None if np.all(w == 1.0) else w
    with threadpool_limits(limits=1, user_api="openmp"):
        return model.fit(x, y, sample_weight=weights)


def _split(n: int, groups: np.ndarray | None, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    idx = np.arange(n)
    if groups is None:
        a, b = next(ShuffleSplit(n_splits=1, test_size=share, random_state=seed).split(idx))
    else:
        a, b = next(
            GroupShuffleSplit(n_splits=1, test_size=share, random_state=seed).split(idx, groups=groups)
        )
    return a, b


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    return float(roc_auc_score(y, s)) if 0 < y.sum() < len(y) else float("nan")


class LearnedRanker:
    """score = alpha * P(approved | features) + (1 - alpha) * default score."""

    def __init__(
        self,
        *,
        kind: str,
        model: Any,
        alpha: float,
        version: str,
        metrics: dict[str, Any],
        importances: dict[str, float] | None = None,
        learned: dict[str, list[str]] | None = None,
        feature_names: tuple[str, ...] = RERANK_FEATURE_NAMES,
    ) -> None:
        if tuple(feature_names) != RERANK_FEATURE_NAMES:
            raise ValueError("ranker was trained on other features than this code computes")
        self.kind, self.model, self.alpha, self.version = kind, model, float(alpha), version
        self.metrics = dict(metrics)
        self.importances = dict(importances or {})
        self.learned = learned or {"zh": [], "en": []}
        self.feature_names = tuple(feature_names)

    def proba(self, features: np.ndarray) -> np.ndarray:
        """The model's own approval probability, before blending."""
        x = np.asarray(features, np.float64)
        if len(x) == 0:
            return np.zeros(0)
        if self.kind == "hgb":
            with threadpool_limits(limits=1, user_api="openmp"):
                return self.model.predict_proba(x)[:, 1]
        return self.model.proba(x)

    def score(self, features: np.ndarray) -> np.ndarray:
        """Re-ranking score of each pair (higher is better), in the default score's units."""
        x = np.asarray(features, np.float64)
        default = x[:, 0] if len(x) else np.zeros(0)
        return (self.alpha * self.proba(x) + (1.0 - self.alpha) * default).astype(np.float32)

    @classmethod
    def fit(
        cls,
        features: np.ndarray,
        approved: np.ndarray,
        *,
        groups: np.ndarray | None = None,
        reasons: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
        newest: np.ndarray | None = None,
        version: str = "1",
        holdout: float = 0.2,
        seed: int = 0,
        prior_decisions: int = PRIOR_DECISIONS,
    ) -> LearnedRanker:
        """Fit both families, keep the better on a selection split, measure on a held-out split.

        groups (e.g. newcomer ids) keep one newcomer's decisions on one side of every split. reasons
        (reject reason codes, None for approvals) train the per-reason models behind the words.
        metrics["holdout_rows"] lists the held-out decisions, for the promotion gate. newest (bool per
        decision) draws the held-out split only from decisions no earlier version can have seen, so
        the gate compares candidate and active model on equal terms.
        """
        x = np.asarray(features, np.float64)
        y = np.asarray(approved, dtype=bool)
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, np.float64)
        if newest is not None and np.asarray(newest).any() and not np.asarray(newest).all():
            fresh = np.flatnonzero(newest)
            share = min(0.5, holdout * len(y) / len(fresh))
            _, pick = _split(len(fresh), None if groups is None else np.asarray(groups)[fresh], share, seed)
            test = fresh[pick]
            rest = np.setdiff1d(np.arange(len(y)), test)
        else:
            rest, test = _split(len(y), groups, holdout, seed)
        sub = None if groups is None else np.asarray(groups)[rest]
        tr, sel = _split(len(rest), sub, 0.25, seed + 1)
        tr, sel = rest[tr], rest[sel]
        trees = _fit_trees(x[tr], y[tr], w[tr], seed)
        logistic = _Logistic.fit(x[tr], y[tr], w[tr], seed)
        with threadpool_limits(limits=1, user_api="openmp"):
            auc_trees = _auc(y[sel], trees.predict_proba(x[sel])[:, 1])
        auc_logistic = _auc(y[sel], logistic.proba(x[sel]))
        kind = "hgb" if not auc_logistic > auc_trees else "logistic"
        why = (
            f"selection-split AUC: boosted trees {auc_trees:.3f}, logistic with interactions "
            f"{auc_logistic:.3f}; kept {'boosted trees' if kind == 'hgb' else 'logistic'}"
        )
        model: Any = (
            _fit_trees(x[rest], y[rest], w[rest], seed)
            if kind == "hgb"
            else _Logistic.fit(x[rest], y[rest], w[rest], seed)
        )
        alpha = len(rest) / (len(rest) + prior_decisions)
        ranker = cls(kind=kind, model=model, alpha=alpha, version=version, metrics={})
        scores = ranker.score(x[test])
        ranker.metrics = {
            "auc": _auc(y[test], scores),
            "approval_at_top": approval_at_top(scores, y[test]),
            "auc_trees": auc_trees,
            "auc_logistic": auc_logistic,
            "chosen": kind,
            "why": why,
            "alpha": alpha,
            "n_train": float(len(rest)),
            "n_test": float(len(test)),
            "positive_rate": float(y.mean()) if len(y) else float("nan"),
            "holdout_rows": test.tolist(),
        }
        per_reason = reason_models(x[rest], y[rest], None if reasons is None else np.asarray(reasons)[rest])
        ranker.importances, ranker.learned = describe(ranker, x[test], y[test], per_reason, seed)
        ranker.metrics["reasons"] = {code: m["n"] for code, m in per_reason.items()}
        return ranker

    def linear_weights(self) -> dict[str, float]:
        """Not linear: retrieval never uses a learned model (kept for the Scorer-like interface)."""
        raise TypeError("a learned re-ranker does not drive retrieval")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able representation: format, kind, model, blend, metrics, importances, words."""
        if self.kind == "hgb":
            blob: Any = base64.b64encode(sio.dumps(self.model)).decode("ascii")
        else:
            blob = self.model.to_dict()
        metrics = {k: v for k, v in self.metrics.items() if k != "holdout_rows"}
        return {
            "format": FORMAT,
            "version": self.version,
            "kind": self.kind,
            "model": blob,
            "alpha": self.alpha,
            "feature_names": list(self.feature_names),
            "metrics": metrics,
            "importances": self.importances,
            "learned": self.learned,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LearnedRanker:
        """Inverse of to_dict; refuses another format, feature list or any untrusted stored type."""
        if data.get("format") != FORMAT:
            raise ValueError(f"unsupported ranker format {data.get('format')!r}")
        if data["kind"] == "hgb":
            raw = base64.b64decode(data["model"])
            untrusted = set(sio.get_untrusted_types(data=raw)) - set(TRUSTED_TYPES)
            if untrusted:
                raise ValueError(f"stored model holds untrusted types {sorted(untrusted)}")
            model: Any = sio.loads(raw, trusted=list(TRUSTED_TYPES))
        elif data["kind"] == "logistic":
            model = _Logistic.from_dict(data["model"])
        else:
            raise ValueError(f"unknown model kind {data['kind']!r}")
        return cls(
            kind=data["kind"],
            model=model,
            alpha=data["alpha"],
            version=str(data["version"]),
            metrics=data["metrics"],
            importances=data.get("importances"),
            learned=data.get("learned"),
            feature_names=tuple(data["feature_names"]),
        )
