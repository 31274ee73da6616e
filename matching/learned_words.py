"""What a fitted re-ranker learned, in words a coordinator reads; per-reason models of rejections.

Effects are measured, not read off coefficients: on the held-out decisions, one feature is moved from
a low to a high value (derived interaction columns follow) and the mean change of the model's approval
probability is reported in percentage points. The same works for trees and for the logistic model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from matching.rerank import RERANK_FEATURE_NAMES, column

MIN_REASON_EXAMPLES = 15
MIN_EFFECT = 0.02  # two points: smaller effects are not worth a sentence
MAX_SENTENCES = 7
# Feature -> (zh label, en label, low value, high value or None = take the 10th / 90th percentile).
WORD_FEATURES: dict[str, tuple[str, str, float | None, float | None]] = {
    "distance_km": ("距离", "distance (km)", 300.0, 1500.0),
    "resources": ("所需资源的覆盖", "coverage of the resources needed", 0.0, 1.0),
    "uncovered_needs": ("未覆盖的需求数", "needs the mentor does not cover", 0.0, 2.0),
    "need_logistics_met": ("物流需求被满足", "logistics need met", 0.0, 1.0),
    "years_selling": ("带头人从业年限", "mentor's years selling", 3.0, 12.0),
    "honours_level": ("荣誉级别", "honour level (0 none .. 4 national)", 0.0, 3.0),
    "honours_count": ("荣誉数量", "number of honours", 0.0, 2.0),
    "fulfilment_rate": ("以往履约率", "past fulfilment rate", 0.5, 0.95),
    "approval_rate": ("以往提案获批率", "mentor's past approval rate", 0.3, 0.8),
    "same_product": ("同品类", "same product", 0.0, 1.0),
    "chain_link": ("产业链上下游", "chain link", 0.0, 1.0),
    "same_province": ("同省", "same province", 0.0, 1.0),
    "corridor": ("对口协作地区", "cooperation corridor", 0.0, 1.0),
    "kind_enterprise": ("企业型带头人", "enterprise mentor", 0.0, 1.0),
    "newcomer_experience": ("新人经验年限", "newcomer's experience (years)", 0.0, 2.0),
    "internet": ("新人网络条件", "newcomer's internet (0 none, 2 broadband)", 0.0, 2.0),
    "product": ("产品相关度", "product relevance", None, None),
    "channels": ("渠道契合", "channel fit", None, None),
    "language": ("语言相通", "language fit", None, None),
}
REASON_FEATURES = (
    "distance_km",
    "perishable_x_distance",
    "resources",
    "uncovered_needs",
    "same_product",
    "chain_link",
    "sibling",
    "product",
    "years_selling",
    "honours_level",
    "fulfilment_rate",
    "newcomer_experience",
    "internet",
    "same_province",
)


class _Probabilistic(Protocol):
    def proba(self, features: np.ndarray) -> np.ndarray: ...


def _with(x: np.ndarray, name: str, value: float) -> np.ndarray:
    """A copy with one feature set, and the interaction columns derived from it recomputed."""
    out = x.copy()
    out[:, column(name)] = value
    if name in ("distance_km", "perishable"):
        out[:, column("perishable_x_distance")] = out[:, column("perishable")] * out[:, column("distance_km")]
    if name in ("years_selling", "newcomer_experience"):
        out[:, column("experience_gap")] = (
            out[:, column("years_selling")] - out[:, column("newcomer_experience")]
        )
    return out


def effect(model: _Probabilistic, x: np.ndarray, name: str, low: float, high: float) -> float:
    """Mean change of approval probability when `name` moves from low to high."""
    if len(x) == 0:
        return 0.0
    return float(np.mean(model.proba(_with(x, name, high)) - model.proba(_with(x, name, low))))


def _range(x: np.ndarray, name: str, low: float | None, high: float | None) -> tuple[float, float]:
    if low is not None and high is not None:
        return low, high
    values = x[:, column(name)]
    return float(np.quantile(values, 0.1)), float(np.quantile(values, 0.9))


def reason_models(
    x: np.ndarray, approved: np.ndarray, reasons: np.ndarray | None
) -> dict[str, dict[str, Any]]:
    """Per reject reason with enough examples: which features separate it from approvals (standardised)."""
    if reasons is None:
        return {}
    out: dict[str, dict[str, Any]] = {}
    cols = [column(n) for n in REASON_FEATURES]
    pos = np.asarray(approved, bool)
    codes = [c for c in sorted({str(r) for r in reasons[~pos] if r}) if c]
    for code in codes:
        mine = (~pos) & (reasons == code)
        if mine.sum() < MIN_REASON_EXAMPLES or pos.sum() < MIN_REASON_EXAMPLES:
            continue
        rows = mine | pos
        z = x[rows][:, cols]
        scale = z.std(axis=0)
        scale[scale < 1e-6] = np.inf
        model = LogisticRegression(C=0.3, max_iter=2000).fit((z - z.mean(axis=0)) / scale, mine[rows])
        coef = dict(zip(REASON_FEATURES, model.coef_[0].tolist(), strict=True))
        top = sorted(coef.items(), key=lambda kv: -abs(kv[1]))[:2]
        out[code] = {"n": int(mine.sum()), "top": [[k, round(v, 3)] for k, v in top if abs(v) > 0.05]}
    return out


def _importances(model: _Probabilistic, x: np.ndarray, y: np.ndarray, seed: int) -> dict[str, float]:
    if len(x) < 10 or not 0 < y.sum() < len(y):
        return {}
    scorer: Callable[[Any, np.ndarray, np.ndarray], float] = lambda est, xx, yy: float(  # noqa: E731
        roc_auc_score(yy, model.proba(xx))
    )
    result = permutation_importance(model, x, y, scoring=scorer, n_repeats=2, random_state=seed)
    return {
        name: round(float(v), 4)
        for name, v in zip(RERANK_FEATURE_NAMES, result.importances_mean, strict=True)
        if abs(v) >= 1e-4
    }


def describe(
    model: _Probabilistic,
    x: np.ndarray,
    y: np.ndarray,
    per_reason: dict[str, dict[str, Any]],
    seed: int = 0,
) -> tuple[dict[str, float], dict[str, list[str]]]:
    """(permutation importances on held-out AUC, {"zh": sentences, "en": sentences})."""
    importances = _importances(model, x, y, seed)
    found: list[tuple[float, str, str]] = []
    for name, (zh, en, lo, hi) in WORD_FEATURES.items():
        low, high = _range(x, name, lo, hi)
        if high <= low:
            continue
        e = effect(model, x, name, low, high)
        if abs(e) >= MIN_EFFECT:
            pts = abs(e) * 100
            found.append(
                (
                    abs(e),
                    f"{zh}从{low:g}到{high:g}：批准概率{'提高' if e > 0 else '降低'}{pts:.0f}个百分点",
                    f"{en} from {low:g} to {high:g}: approval {'up' if e > 0 else 'down'} {pts:.0f} points",
                )
            )
    fresh, dry = x[x[:, column("perishable")] >= 1.0], x[x[:, column("perishable")] == 0.0]
    if len(fresh) >= 10 and len(dry) >= 10:
        e_fresh = effect(model, fresh, "distance_km", 1500.0, 300.0)
        e_dry = effect(model, dry, "distance_km", 1500.0, 300.0)
        if e_fresh - e_dry >= MIN_EFFECT:
            found.append(
                (
                    e_fresh - e_dry + 1.0,  # the interaction is the headline when present
                    f"生鲜产品更看重距离：相距300公里比1500公里批准概率高{e_fresh * 100:.0f}个百分点"
                    f"（耐储产品为{e_dry * 100:.0f}个）",
                    f"distance matters more for fresh produce: approval {e_fresh * 100:.0f} points higher at "
                    f"300 km than at 1,500 km (shelf-stable products: {e_dry * 100:.0f} points)",
                )
            )
    found.sort(key=lambda t: -t[0])
    zh_out = [t[1] for t in found[:MAX_SENTENCES]]
    en_out = [t[2] for t in found[:MAX_SENTENCES]]
    for code, info in per_reason.items():
        if info["top"]:
            words = ", ".join(f"{k} ({'higher' if v > 0 else 'lower'})" for k, v in info["top"])
            zh_words = "、".join(f"{k}（{'偏高' if v > 0 else '偏低'}）" for k, v in info["top"])
            en_out.append(f"rejections as {code} ({info['n']}): mostly when {words}")
            zh_out.append(f"以“{code}”拒绝（{info['n']}次）主要出现在：{zh_words}")
    if not en_out:
        zh_out.append("尚未学到明显的偏好：排序接近默认评分")
        en_out.append("no clear preference learned yet: the order stays close to the default score")
    return importances, {"zh": zh_out, "en": en_out}
