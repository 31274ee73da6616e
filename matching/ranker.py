"""Learned re-ranker: orders each newcomer's retrieved pool by the approval coordinators would give.

Two model families are fitted on the same decisions; their mean is kept unless one alone is better by
SELECT_MARGIN AUC on a held-out selection split (recorded in metrics["chosen"] and metrics["why"]):
- gradient-boosted stumps (scikit-learn's HistGradientBoostingClassifier with depth-1 trees) with
  monotonic constraints where the direction is known (rerank.MONOTONIC), so noise cannot flip "covers
  the needs" into a penalty. Stumps form thresholds ("a city-level honour or better") but no
  interactions of their own: the interactions a coordinator uses (fresh produce x distance, no cold
  chain for fresh produce) are explicit re-ranking features;
- an L2-regularised logistic model on standardised features (the same explicit interactions).
Measured on persona decisions (bench/RESULTS.md): deeper trees (12 leaves) and a logistic model with all
36 pairwise products of nine features fitted the noise of ~1,500 decisions and chose worse mentors from
a fresh pool than these two.

Guardrails live here too: the learned probability is blended with the default score by
alpha = n / (n + PRIOR_DECISIONS), so few decisions barely move the ranking. The hard rules are
applied after scoring (matching.stages) and are never features to learn away.

Boosting runs on one OpenMP thread: the data are small (thousands of decisions), and on a busy machine
OpenMP's spinning threads cost more than they save. Scoring does not use the fitted estimator: a sum of
stumps is one step function per feature, compiled once (checked against predict_proba) and evaluated
with searchsorted, which scores a million pooled pairs in a fraction of the estimator's time.

Saved as a JSON-able dict (never a pickle): stumps as thresholds and step values, the logistic model as
plain coefficients. Versions stored before stumps ("hgb": 12-leaf trees as a base64 skops archive) still
load, with an explicit list of trusted types.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import skops.io as sio
from scipy.special import expit
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
SELECT_MARGIN = 0.01  # selection-split AUC a single family must gain over the mean to be kept alone
FAMILY_WORDS = {"stumps": "boosted stumps", "logistic": "logistic", "mean": "the mean of both"}
LOGISTIC_C = 0.05  # strong: with ~40 correlated features and noisy labels, weaker fits chose worse
# Products the logistic model of versions stored before stumps took on top of the features.
LEGACY_INTERACTING = (
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


def _legacy_pairs() -> list[tuple[int, int]]:
    cols = [column(n) for n in LEGACY_INTERACTING]
    return [(a, b) for i, a in enumerate(cols) for b in cols[i + 1 :]]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    # expit: 1 / (1 + exp(-z)) without the overflow of exp for a large negative z.
    return expit(z)


class _Logistic:
    """Standardised features (and, in old versions, products) -> logistic regression; JSON-able."""

    def __init__(
        self,
        mean: np.ndarray,
        scale: np.ndarray,
        coef: np.ndarray,
        intercept: float,
        pairs: list[tuple[int, int]] | None = None,
    ) -> None:
        self.mean, self.scale, self.coef, self.intercept = mean, scale, coef, intercept
        self.pairs = list(pairs or [])
        n = len(mean) - len(self.pairs)
        # Scoring folds the standardisation into the weights: one float32 matrix-vector product.
        self._w = np.where(np.isfinite(scale), coef / np.where(np.isfinite(scale), scale, 1.0), 0.0)
        self._b = float(intercept - np.sum(np.where(np.isfinite(scale), mean * self._w, 0.0)))
        self._w_main = self._w[:n].astype(np.float32)

    def expand(self, x: np.ndarray) -> np.ndarray:
        """Features plus the pairwise products of old versions (none for new ones)."""
        x = np.asarray(x, np.float64)
        if not self.pairs:
            return x
        return np.hstack([x, np.stack([x[:, a] * x[:, b] for a, b in self.pairs], axis=1)])

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, w: np.ndarray, seed: int) -> _Logistic:
        """Fit with strong L2 (LOGISTIC_C): a near-constant feature cannot get a huge weight."""
        z = np.asarray(x, np.float64)
        mean, scale = z.mean(axis=0), z.std(axis=0)
        scale[scale < 1e-6] = np.inf  # constant features get no weight at all
        model = LogisticRegression(C=LOGISTIC_C, max_iter=3000, random_state=seed)
        model.fit((z - mean) / scale, y, sample_weight=w)
        return cls(mean, scale, model.coef_[0], float(model.intercept_[0]))

    def proba(self, x: np.ndarray) -> np.ndarray:
        """Approval probability."""
        if self.pairs:
            return _sigmoid(self.intercept + ((self.expand(x) - self.mean) / self.scale) @ self.coef)
        return _sigmoid(self._b + np.asarray(x, np.float32) @ self._w_main)

    def to_dict(self) -> dict[str, Any]:
        """Plain lists (inf scales stored as 0: 'no weight')."""
        scale = np.where(np.isfinite(self.scale), self.scale, 0.0)
        return {
            "mean": self.mean.tolist(),
            "scale": scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
            "pairs": [list(p) for p in self.pairs],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> _Logistic:
        """Inverse of to_dict; a version stored without "pairs" used all products of LEGACY_INTERACTING."""
        scale = np.array(d["scale"], np.float64)
        pairs = [tuple(p) for p in d["pairs"]] if "pairs" in d else _legacy_pairs()
        return cls(
            np.array(d["mean"]),
            np.where(scale > 0, scale, np.inf),
            np.array(d["coef"]),
            d["intercept"],
            pairs,  # type: ignore[arg-type]
        )


class _Stumps:
    """A sum of depth-1 trees as one step function per feature: raw = base + sum_f step_f(x_f).

    Feature f's stumps (threshold t, left - right value d) contribute sum of d over t >= x_f (x <= t goes
    left, as in scikit-learn); `steps[f][j]` is that suffix sum from the j-th smallest threshold.
    """

    def __init__(self, base: float, thresholds: list[np.ndarray], steps: list[np.ndarray]) -> None:
        self.base = float(base)
        self.thresholds = [np.asarray(t, np.float64) for t in thresholds]
        self.steps = [np.asarray(v, np.float64) for v in steps]
        self._used = [f for f, t in enumerate(self.thresholds) if len(t)]
        # Features are float32: x <= t equals x <= (the largest float32 <= t), so the search can run in
        # float32 on the feature column as it is.
        down = []
        for t in self.thresholds:
            t32 = t.astype(np.float32)
            down.append(np.where(t32.astype(np.float64) > t, np.nextafter(t32, np.float32(-np.inf)), t32))
        self._t32 = down

    @classmethod
    def compile(cls, model: HistGradientBoostingClassifier, x: np.ndarray) -> _Stumps:
        """From a fitted depth-1 model; raises if the result differs from predict_proba on x."""
        n_features = x.shape[1]
        base = float(np.ravel(model._baseline_prediction)[0])
        found: list[list[tuple[float, float]]] = [[] for _ in range(n_features)]
        for (tree,) in model._predictors:
            nodes = tree.nodes
            root = nodes[0]
            if root["is_leaf"]:
                base += float(root["value"])
                continue
            left, right = nodes[root["left"]], nodes[root["right"]]
            base += float(right["value"])
            found[int(root["feature_idx"])].append(
                (float(root["num_threshold"]), float(left["value"] - right["value"]))
            )
        thresholds, steps = [], []
        for pairs in found:
            pairs.sort()
            t = np.array([p[0] for p in pairs], np.float64)
            d = np.array([p[1] for p in pairs], np.float64)
            thresholds.append(t)
            steps.append(np.append(np.cumsum(d[::-1])[::-1], 0.0))
        stumps = cls(base, thresholds, steps)
        with threadpool_limits(limits=1, user_api="openmp"):
            expected = model.predict_proba(x)[:, 1]
        if not np.allclose(stumps.proba(x), expected, atol=1e-6):
            raise RuntimeError("compiled stumps differ from the fitted model")
        return stumps

    def raw(self, x: np.ndarray) -> np.ndarray:
        """Log-odds of approval."""
        x = np.asarray(x)
        out = np.full(len(x), self.base)
        for f in self._used:
            col = x[:, f]
            if col.dtype == np.float32:
                out += self.steps[f][np.searchsorted(self._t32[f], col, "left")]
            else:
                out += self.steps[f][np.searchsorted(self.thresholds[f], col.astype(np.float64), "left")]
        return out

    def proba(self, x: np.ndarray) -> np.ndarray:
        """Approval probability."""
        return _sigmoid(self.raw(x))

    def to_dict(self) -> dict[str, Any]:
        """Plain lists."""
        return {
            "base": self.base,
            "thresholds": [t.tolist() for t in self.thresholds],
            "steps": [v.tolist() for v in self.steps],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> _Stumps:
        """Inverse of to_dict."""
        return cls(d["base"], d["thresholds"], d["steps"])


class _Mean:
    """The mean approval probability of boosted stumps and the logistic model."""

    def __init__(self, stumps: _Stumps, logistic: _Logistic) -> None:
        self.stumps, self.logistic = stumps, logistic

    def proba(self, x: np.ndarray) -> np.ndarray:
        """Approval probability."""
        return 0.5 * (self.stumps.proba(x) + self.logistic.proba(x))

    def to_dict(self) -> dict[str, Any]:
        """Both parts."""
        return {"stumps": self.stumps.to_dict(), "logistic": self.logistic.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> _Mean:
        """Inverse of to_dict."""
        return cls(_Stumps.from_dict(d["stumps"]), _Logistic.from_dict(d["logistic"]))


def _fit_family(kind: str, x: np.ndarray, y: np.ndarray, w: np.ndarray, seed: int) -> Any:
    if kind == "stumps":
        return _fit_stumps(x, y, w, seed)
    if kind == "logistic":
        return _Logistic.fit(x, y, w, seed)
    return _Mean(_fit_stumps(x, y, w, seed), _Logistic.fit(x, y, w, seed))


def _fit_stumps(x: np.ndarray, y: np.ndarray, w: np.ndarray, seed: int) -> _Stumps:
    monotonic = [MONOTONIC.get(name, 0) for name in RERANK_FEATURE_NAMES]
    model = HistGradientBoostingClassifier(
        learning_rate=0.1,
        max_iter=400,
        max_depth=1,
        min_samples_leaf=25,
        l2_regularization=1.0,
        monotonic_cst=monotonic,
        # Stops when 20 more stumps do not improve the loss on an internal split (seeded, so deterministic).
        # That split is stratified and needs two decisions of each kind; with fewer, min_samples_leaf
        # keeps the few rounds there are from fitting noise.
        early_stopping=bool(min(y.sum(), len(y) - y.sum()) >= 2),
        validation_fraction=0.2,
        n_iter_no_change=20,
        random_state=seed,
    )
    # Unit weights go in as None: weighted binning takes a much slower percentile path.
    weights = None if np.all(w == 1.0) else w
    with threadpool_limits(limits=1, user_api="openmp"):
        model.fit(x, y, sample_weight=weights)
    return _Stumps.compile(model, x)


def _split(n: int, groups: np.ndarray | None, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    idx = np.arange(n)
    if groups is None:
        a, b = next(ShuffleSplit(n_splits=1, test_size=share, random_state=seed).split(idx))
    else:
        a, b = next(
            GroupShuffleSplit(n_splits=1, test_size=share, random_state=seed).split(idx, groups=groups)
        )
    return a, b


def _keep_both_kinds(
    y: np.ndarray, keep: np.ndarray, held: np.ndarray, groups: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Move one held-out decision (with its group) of a kind `keep` lacks into it.

    A jurisdiction with one rejection among many approvals is enough to retrain on; a split that held
    that one out left a training side of one kind, which no classifier can fit.
    """
    for kind in (True, False):
        if (y[keep] == kind).any() or not (y[held] == kind).any():
            continue
        moved = held[y[held] == kind][:1]
        if groups is not None:
            moved = held[np.isin(groups[held], groups[moved])]
        keep, held = np.sort(np.concatenate([keep, moved])), np.setdiff1d(held, moved)
    return keep, held


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
        x = np.asarray(features)
        if len(x) == 0:
            return np.zeros(0)
        if self.kind == "hgb":
            with threadpool_limits(limits=1, user_api="openmp"):
                return self.model.predict_proba(x)[:, 1]
        return self.model.proba(features)

    def score(self, features: np.ndarray) -> np.ndarray:
        """Re-ranking score of each pair (higher is better), in the default score's units."""
        x = np.asarray(features)
        default = x[:, 0] if len(x) else np.zeros(0, np.float32)
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
        g = None if groups is None else np.asarray(groups)
        rest, test = _keep_both_kinds(y, rest, test, g)
        tr, sel = _split(len(rest), None if g is None else g[rest], 0.25, seed + 1)
        tr, sel = _keep_both_kinds(y, rest[tr], rest[sel], g)
        fitted = {
            "stumps": _fit_stumps(x[tr], y[tr], w[tr], seed),
            "logistic": _Logistic.fit(x[tr], y[tr], w[tr], seed),
        }
        fitted["mean"] = _Mean(fitted["stumps"], fitted["logistic"])
        aucs = {name: _auc(y[sel], m.proba(x[sel])) for name, m in fitted.items()}
        # The mean of the two is kept unless one family alone is clearly better on the selection split:
        # on persona decisions it was never far from the better family and often ahead of both.
        best = max(("stumps", "logistic"), key=lambda name: aucs[name] if np.isfinite(aucs[name]) else -1)
        kind = best if aucs[best] > aucs["mean"] + SELECT_MARGIN else "mean"
        why = (
            f"selection-split AUC: boosted stumps {aucs['stumps']:.3f}, logistic {aucs['logistic']:.3f}, "
            f"their mean {aucs['mean']:.3f}; kept {FAMILY_WORDS[kind]}"
        )
        model = _fit_family(kind, x[rest], y[rest], w[rest], seed)
        auc_trees, auc_logistic = aucs["stumps"], aucs["logistic"]
        alpha = len(rest) / (len(rest) + prior_decisions)
        ranker = cls(kind=kind, model=model, alpha=alpha, version=version, metrics={})
        scores = ranker.score(x[test])
        ranker.metrics = {
            "auc": _auc(y[test], scores),
            "approval_at_top": approval_at_top(scores, y[test]),
            "auc_trees": auc_trees,
            "auc_logistic": auc_logistic,
            "auc_mean": aucs["mean"],
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
        elif data["kind"] == "stumps":
            model = _Stumps.from_dict(data["model"])
        elif data["kind"] == "mean":
            model = _Mean.from_dict(data["model"])
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
