"""Jieduan matching model: pairs exemplary rural sellers (mentors) with newcomers in another region.

Pure: stdlib, NumPy, SciPy, scikit-learn, OR-Tools (faiss only if Policy.index asks for it).

Public API
----------
Inputs (columnar; `from_records` takes a list of plain dicts, exact keys below):
    MentorTable.from_records(records) -> MentorTable
        keys: id:int, county_code:str|int (6+ digits), lat:float|None, lon:float|None (default: county
        seat), products:list[str] (taxonomy leaf codes or free words, first = primary),
        channels:list[str] (vocab.CHANNELS), resources_offered:list[str] (vocab.RESOURCE_TYPES),
        languages:list[str] (vocab.LANGUAGES), capacity_left:int, fulfilment_rate:float|None,
        years_selling:float, kind:str (vocab.MENTOR_KINDS), sales_band:str (vocab.SALES_BANDS), text:str
    NewcomerTable.from_records(records) -> NewcomerTable
        keys: id, county_code, lat, lon, products, channels, resources_needed:list[str], languages,
        has_active_mentor:bool, county_penetration:float|None (0..1), experience_years:float, text:str
    Both are frozen dataclasses of arrays (ids, county, lat, lon, categories CSR (n, C), primary_category,
    channels/resources/languages bool matrices, texts ...) and can be built from arrays directly.

Policy(separation="county"|"prefecture"|"province", max_distance_km=None, k=10, pool=None,
       rerank_pool=20, rerank_k=15, rerank_near=30, pairing_pool=50, exploration=0.05, pairing="any",
       chain_share=0.5,
       same_product_same_prefecture="penalise"|"exclude", weights=Weights(), use_equity=True,
       track_prior=0.5, index="exact"|"faiss"|"auto", faiss_nprobe=48, block_rows=2048)
Weights(product, resources, channels, language, text, track, distance, homogenization, equity)

propose(mentors, newcomers, policy=None, *, ranker=None, exclude_pairs=(), seed=0, arc_limit=None,
        on_stage=None) -> ProposalSet
    on_stage(stage, done, total): progress before the assignment ("index", then "candidates" part by
    part, SEARCH_CHUNK_ROWS newcomers a part); raising there stops the run.
    Hard constraints: separation (+ max distance), capacity_left, one mentor per newcomer (newcomers with
    has_active_mentor get nothing), excluded (newcomer_id, mentor_id) pairs, diversity (a mentor gets
    at most one newcomer per (newcomer county, primary category)). Min-cost flow maximises the total
    value = score + equity bonus (see matching.assign for the precise equity guarantee).
ProposalSet: columnar newcomer_id, mentor_id, score, value, parts (n, 9) with part_names, rank;
    .explain(i, lang="zh"|"en") -> list[str]; .commitments(i) -> tuple[Commitment, ...];
    .parts_of(i) -> dict; .to_records(explain=False) -> list[dict].
Commitment(resource, area, description_zh, description_en, cadence_days)

Recommender(mentors, policy=None, *, ranker=None, seed=0).recommend(newcomer_record | NewcomerTable,
    k=None, *, exclude_mentor_ids=()) -> ProposalSet (ranked, rank = position, not assigned)

LearnedRanker.fit(features, approved, *, groups=None, version="1", holdout=0.25, seed=0)
    .score(features) -> approval probability; .linear_weights(); .to_dict() -> JSON-able dict with
    format, version, feature_names, mean, scale, coef, intercept, metrics; LearnedRanker.from_dict(d)
pair_features(mentors, newcomers, mentor_rows, newcomer_rows, *, policy=None, seed=0) -> (n, F) array
    columns FEATURE_NAMES (rows are table positions; use table.rows_of(ids) to map ids)
evaluate(proposals, mentors, newcomers) -> dict (coverage, mean_score, cross_*_share,
    diversity_violations, capacity_violations, equity_ratio, capacity_utilisation, ...)
ranker_metrics(scores, approved, groups=None, k=1) -> {"auc", "precision_at_k"}

Lower level (bench, advanced callers): build_index, find_candidates, assign_candidates,
    synthetic.generate_population, synthetic.generate_decisions, taxonomy.*.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from matching import taxonomy, vocab

# Exports are loaded on first use (PEP 562): callers that only need the vocabularies or the taxonomy
# (the roster importer, the API schemas) do not pay for importing scikit-learn, SciPy and OR-Tools.
_EXPORTS: dict[str, str] = {
    "FEATURE_NAMES": "matching.features",
    "RERANK_FEATURE_NAMES": "matching.rerank",
    "GateResult": "matching.promotion",
    "gate": "matching.promotion",
    "PART_NAMES": "matching.score",
    "Commitment": "matching.types",
    "LearnedRanker": "matching.ranker",
    "MentorTable": "matching.types",
    "NewcomerTable": "matching.types",
    "Policy": "matching.types",
    "ProposalSet": "matching.proposals",
    "Recommender": "matching.recommend",
    "WeightedScorer": "matching.score",
    "Weights": "matching.types",
    "assign_candidates": "matching.pipeline",
    "build_index": "matching.pipeline",
    "equity_tiers": "matching.score",
    "evaluate": "matching.evaluation",
    "find_candidates": "matching.pipeline",
    "pair_features": "matching.pairs",
    "propose": "matching.pipeline",
    "ranker_metrics": "matching.evaluation",
}

if TYPE_CHECKING:
    from matching.evaluation import evaluate, ranker_metrics
    from matching.features import FEATURE_NAMES
    from matching.pairs import pair_features
    from matching.pipeline import assign_candidates, build_index, find_candidates, propose
    from matching.promotion import GateResult, gate
    from matching.proposals import ProposalSet
    from matching.ranker import LearnedRanker
    from matching.recommend import Recommender
    from matching.rerank import RERANK_FEATURE_NAMES
    from matching.score import PART_NAMES, WeightedScorer, equity_tiers
    from matching.types import Commitment, MentorTable, NewcomerTable, Policy, Weights


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'matching' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = [
    "FEATURE_NAMES",
    "PART_NAMES",
    "RERANK_FEATURE_NAMES",
    "Commitment",
    "GateResult",
    "LearnedRanker",
    "MentorTable",
    "NewcomerTable",
    "Policy",
    "ProposalSet",
    "Recommender",
    "WeightedScorer",
    "Weights",
    "assign_candidates",
    "build_index",
    "equity_tiers",
    "evaluate",
    "find_candidates",
    "gate",
    "pair_features",
    "propose",
    "ranker_metrics",
    "taxonomy",
    "vocab",
]
