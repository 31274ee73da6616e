"""Approximate retrieval with a faiss IVF index, for sizes where the exact GEMM is too slow.

faiss is optional and imported lazily: the exact path never needs it. Separation is enforced inside
the search (an IDSelector excludes the newcomer's own region, a contiguous id range since mentors are
sorted by county); the homogenization penalty, distance cap and exclusions are applied to the
retrieved list, which is why a few extra neighbours are fetched.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from matching.candidates import NEG, MentorIndex, _runs
from matching.regions import cos_of_distance, unit_vectors
from matching.types import NewcomerTable

SLACK = 8  # extra neighbours fetched to survive the post-filters


def _faiss() -> Any:
    return importlib.import_module("faiss")


def augment_keys(keys: np.ndarray) -> np.ndarray:
    """Append sqrt(R^2 - |k|^2) so every key has norm R: inner-product order is unchanged for queries
    padded with 0, and IVF clustering no longer favours long keys (the MIPS -> nearest-neighbour
    reduction), which is what makes IVF recall usable here."""
    norms = np.einsum("ij,ij->i", keys, keys)
    extra = np.sqrt(np.maximum(norms.max() - norms, 0.0))
    return np.hstack([keys, extra[:, None]]).astype(np.float32)


def build_ivf(keys: np.ndarray, seed: int) -> Any:
    """Inner-product IVF-Flat over augmented mentor keys; ~4 sqrt(M) lists, trained on a seeded sample."""
    faiss = _faiss()
    keys = augment_keys(keys)
    m, d = keys.shape
    nlist = max(1, min(int(4 * np.sqrt(m)), m // 39))
    quantizer = faiss.IndexFlatIP(d)
    index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = seed
    sample = np.random.default_rng(seed).permutation(m)[: nlist * 64]
    index.train(np.ascontiguousarray(keys[np.sort(sample)]))
    index.add(np.ascontiguousarray(keys))
    return index


def retrieve_ann(
    index: MentorIndex,
    newcomers: NewcomerTable,
    rows: np.ndarray,
    n_text: np.ndarray | None,
    ex_local: np.ndarray,
    ex_cols: np.ndarray,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Approximate top-pool positions and retrieval scores (same contract as retrieve_exact)."""
    faiss = _faiss()
    pol = index.policy
    m = index.size
    if index.ann is None:
        index.ann = build_ivf(index.keys[:m], seed)
    pool = min(index.pool, max(m, 1))
    fetch = min(pool + SLACK + (int(np.bincount(ex_local).max()) if len(ex_local) else 0), max(m, 1))
    out_pos = np.full((len(rows), pool), -1, dtype=np.int64)
    out_val = np.full((len(rows), pool), NEG, dtype=np.float32)
    if m == 0:
        return out_pos, out_val
    ex_keys = ex_local * m + ex_cols
    step = pol.block_rows
    for start in range(0, len(rows), step):
        blk = rows[start : start + step]
        q = index.space.newcomer_queries(
            newcomers, blk, index.weights, None if n_text is None else n_text[start : start + step]
        )
        q = np.hstack([q, np.zeros((len(q), 1), np.float32)])  # the augmented key dimension
        pos = np.full((len(blk), fetch), -1, dtype=np.int64)
        val = np.full((len(blk), fetch), NEG, dtype=np.float32)
        for r0, r1, code in _runs(newcomers.level_codes(pol.separation)[blk]):
            lo, hi = (int(x) for x in np.searchsorted(index.level, [code, code + 1]))
            sel = faiss.IDSelectorNot(faiss.IDSelectorRange(lo, hi))
            params = faiss.SearchParametersIVF(sel=sel, nprobe=pol.faiss_nprobe)
            d, i = index.ann.search(np.ascontiguousarray(q[r0:r1]), fetch, params=params)
            val[r0:r1], pos[r0:r1] = np.where(i >= 0, d, NEG), i
        ok = pos >= 0
        safe = np.maximum(pos, 0)
        if pol.separation == "county":
            same_pref = index.prefecture[safe] == (newcomers.county[blk] // 100)[:, None]
            n_cat = newcomers.dense_categories(blk)
            identical = np.einsum("bc,bkc->bk", n_cat, index.cat_bin[safe]) > 0
            hit = ok & same_pref & identical
            if pol.same_product_same_prefecture == "exclude":
                val[hit] = NEG
            else:
                val[hit] += np.float32(index.weights["homogenization"])
        if pol.max_distance_km is not None:
            u = unit_vectors(newcomers.lat[blk], newcomers.lon[blk])
            val[np.einsum("bd,bkd->bk", u, index.unit[safe]) < cos_of_distance(pol.max_distance_km)] = NEG
        if len(ex_keys):
            val[np.isin((np.arange(len(blk))[:, None] + start) * m + safe, ex_keys)] = NEG
        val[~ok] = NEG
        order = np.argsort(-val, axis=1, kind="stable")[:, :pool]
        val, pos = np.take_along_axis(val, order, 1), np.take_along_axis(pos, order, 1)
        pos[~np.isfinite(val)] = -1
        out_pos[start : start + len(blk)], out_val[start : start + len(blk)] = pos, val
    return out_pos, out_val
