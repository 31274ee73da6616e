"""Learned ranker: logistic regression on pair features, fitted on coordinators' past decisions.

Saved as a JSON-able dict (never pickle) so the app can keep it in a database row:
{"format", "version", "feature_names", "mean", "scale", "coef", "intercept", "metrics"}.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupShuffleSplit, ShuffleSplit

from matching.evaluation import ranker_metrics
from matching.features import FEATURE_NAMES

FORMAT = "jieduan.matching.ranker/1"


class LearnedRanker:
    """P(approved | pair features) = sigmoid(intercept + coef . (x - mean) / scale)."""

    def __init__(
        self,
        *,
        coef: np.ndarray,
        intercept: float,
        mean: np.ndarray,
        scale: np.ndarray,
        version: str,
        metrics: dict[str, float],
        feature_names: tuple[str, ...] = FEATURE_NAMES,
    ) -> None:
        if tuple(feature_names) != FEATURE_NAMES:
            raise ValueError(
                f"ranker was trained on features {feature_names}, this code uses {FEATURE_NAMES}"
            )
        self.coef = np.asarray(coef, dtype=np.float64)
        self.intercept = float(intercept)
        self.mean = np.asarray(mean, dtype=np.float64)
        self.scale = np.asarray(scale, dtype=np.float64)
        self.version = version
        self.metrics = dict(metrics)
        self.feature_names = tuple(feature_names)

    @classmethod
    def fit(
        cls,
        features: np.ndarray,
        approved: np.ndarray,
        *,
        groups: np.ndarray | None = None,
        version: str = "1",
        holdout: float = 0.25,
        seed: int = 0,
        c: float = 1.0,
    ) -> LearnedRanker:
        """Fit on (pair features, approved?) decisions; metrics are measured on a held-out split.

        groups (e.g. newcomer ids) keep all decisions about one newcomer on the same side of the split
        and define precision@k.
        """
        x = np.asarray(features, dtype=np.float64)
        y = np.asarray(approved, dtype=bool)
        splitter = (
            GroupShuffleSplit(n_splits=1, test_size=holdout, random_state=seed)
            if groups is not None
            else ShuffleSplit(n_splits=1, test_size=holdout, random_state=seed)
        )
        train, test = next(splitter.split(x, y, groups))
        mean = x[train].mean(axis=0)
        scale = x[train].std(axis=0)
        scale[scale < 1e-9] = 1.0  # constant features get zero weight, not a division by zero
        model = LogisticRegression(C=c, max_iter=2000)
        model.fit((x[train] - mean) / scale, y[train])
        ranker = cls(
            coef=model.coef_[0],
            intercept=float(model.intercept_[0]),
            mean=mean,
            scale=scale,
            version=version,
            metrics={},
        )
        metrics = ranker_metrics(ranker.score(x[test]), y[test], None if groups is None else groups[test])
        metrics.update(n_train=float(len(train)), n_test=float(len(test)), positive_rate=float(y.mean()))
        ranker.metrics = metrics
        return ranker

    def score(self, features: np.ndarray) -> np.ndarray:
        """Approval probability of each pair."""
        z = self.intercept + ((np.asarray(features, np.float64) - self.mean) / self.scale) @ self.coef
        return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)

    def linear_weights(self) -> dict[str, float]:
        """Weights of the logit in raw feature units: retrieval ranks by the logit, same order as score."""
        return {name: float(w) for name, w in zip(self.feature_names, self.coef / self.scale, strict=True)}

    def from_linear(self, linear: np.ndarray) -> np.ndarray:
        """Probability from sum(linear_weights * features): the scaler's offsets go into the intercept."""
        z = self.intercept - float(self.coef @ (self.mean / self.scale)) + np.asarray(linear, np.float64)
        return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able representation (format, version, features, scaler, coefficients, metrics)."""
        return {
            "format": FORMAT,
            "version": self.version,
            "feature_names": list(self.feature_names),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
            "metrics": dict(self.metrics),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LearnedRanker:
        """Inverse of to_dict; refuses another format or feature list."""
        if data.get("format") != FORMAT:
            raise ValueError(f"unsupported ranker format {data.get('format')!r}")
        return cls(
            coef=np.array(data["coef"]),
            intercept=data["intercept"],
            mean=np.array(data["mean"]),
            scale=np.array(data["scale"]),
            version=str(data["version"]),
            metrics=data["metrics"],
            feature_names=tuple(data["feature_names"]),
        )
