"""Profiles -> feature matrices: retrieval embeddings and the named pair features the ranker scores.

The retrieval embedding is built so that <query(newcomer), key(mentor)> equals the *bilinear* part of
the score exactly: product relevance (through the taxonomy's compatibility matrix, so complementary
chain links count), resource coverage, channel and language fit, text similarity and track record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from matching import taxonomy, vocab
from matching.regions import haversine_km
from matching.text import TextModel, fit_text_model
from matching.types import MentorTable, NewcomerTable, Policy

RESOURCE_FLAGS: tuple[str, ...] = tuple(f"need_{r}_met" for r in vocab.RESOURCE_TYPES)
FEATURE_NAMES: tuple[str, ...] = (
    "product",
    "resources",
    "channels",
    "language",
    "text",
    "track",
    "distance",
    "homogenization",
    *RESOURCE_FLAGS,
)
# Features that are exact inner products of a newcomer vector and a mentor vector.
BILINEAR: tuple[str, ...] = ("product", "resources", "channels", "language", "text", "track", *RESOURCE_FLAGS)
DISTANCE_BANDS_KM: tuple[float, ...] = (300.0, 800.0, 1500.0)
DISTANCE_BAND_SCORES: tuple[float, ...] = (1.0, 0.75, 0.5, 0.25)


def padded_categories(categories: object, rows: np.ndarray) -> np.ndarray:
    """(len(rows), L) int64 category indices of some rows of a CSR matrix, -1 where a row has fewer.

    Profiles hold one to a few categories: pair features gather these few indices per pair instead of
    a dense (pairs, C) row, which was most of the cost of featurising a million pooled pairs.
    """
    indptr, indices = categories.indptr, categories.indices  # type: ignore[attr-defined]
    rows = np.asarray(rows, dtype=np.int64)
    starts = indptr[rows].astype(np.int64)
    lens = (indptr[rows + 1] - starts).astype(np.int64)
    out = np.full((len(rows), max(int(lens.max()) if len(rows) else 0, 1)), -1, dtype=np.int64)
    owner = np.repeat(np.arange(len(rows)), lens)
    slot = np.arange(int(lens.sum())) - np.repeat(np.cumsum(lens) - lens, lens)
    out[owner, slot] = indices[np.repeat(starts, lens) + slot]
    return out


def index_bits(idx: np.ndarray, n_categories: int) -> np.ndarray | None:
    """(n, L) -1-padded category indices -> (n,) uint64 bit sets (None over 64 categories)."""
    if n_categories > 64:
        return None
    bits = np.left_shift(np.uint64(1), np.maximum(idx, 0).astype(np.uint64))
    return np.bitwise_or.reduce(np.where(idx >= 0, bits, np.uint64(0)), axis=1)


def mean_of_rows(matrix: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """(n, C) float32 mean of the matrix rows each -1-padded index row names (all rows where none).

    Equals _row_normalise(0/1 flags) @ matrix, by a few row gathers instead of a matrix product.
    """
    valid = idx >= 0
    total = np.zeros((len(idx), matrix.shape[1]), np.float32)
    for a in range(idx.shape[1]):
        total += np.where(valid[:, a, None], matrix[np.maximum(idx[:, a], 0)], np.float32(0.0))
    count = valid.sum(axis=1, keepdims=True)
    return np.where(count > 0, total / np.maximum(count, 1), matrix.mean(axis=0, dtype=np.float32))


def group_pairs(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(unique rows, inverse) of the newcomer rows of some pairs.

    Linear when each row's pairs are adjacent, as a pool lists them (no sort of every pair); any
    other order falls back to np.unique.
    """
    if len(rows) == 0:
        return rows[:0], np.zeros(0, np.int64)
    starts = np.flatnonzero(np.concatenate([[True], rows[1:] != rows[:-1]]))
    first = rows[starts]
    if len(np.unique(first)) == len(first):
        return first, np.repeat(np.arange(len(first)), np.diff(np.append(starts, len(rows))))
    return np.unique(rows, return_inverse=True)


def flag_bits(flags: np.ndarray) -> np.ndarray:
    """(n, w <= 32) bool flags -> (n,) uint32 bit masks, so a pair's overlap is one popcount."""
    w = flags.shape[1]
    if w > 32:
        raise ValueError("at most 32 flags per mask")
    return (flags.astype(np.uint32) << np.arange(w, dtype=np.uint32)).sum(axis=1, dtype=np.uint32)


def share_fit(n_bits: np.ndarray, m_bits: np.ndarray, width: int) -> np.ndarray:
    """Per pair <row-normalised newcomer flags, mentor flags>: the share of the newcomer's flags the
    mentor has, or (newcomer without any: "no preference") the share of all flags the mentor has."""
    common = np.bitwise_count(n_bits & m_bits).astype(np.float32)
    wanted = np.bitwise_count(n_bits).astype(np.float32)
    everything = np.bitwise_count(m_bits).astype(np.float32) / np.float32(width)
    return np.where(wanted > 0, common / np.maximum(wanted, 1), everything)


def _row_normalise(flags: np.ndarray) -> np.ndarray:
    """Rows sum to 1; an empty row means 'no preference' and spreads evenly."""
    x = flags.astype(np.float32)
    counts = x.sum(axis=1, keepdims=True)
    return np.where(counts > 0, x / np.maximum(counts, 1), np.float32(1.0 / x.shape[1]))


@dataclass(frozen=True, eq=False)
class FeatureSpace:
    """Everything fitted once on the mentors: compatibility matrix, text model, mentor-side arrays."""

    compat: np.ndarray  # (C, C) float32
    text: TextModel | None
    track_prior: float
    m_cat_norm: np.ndarray  # (M, C) float32, rows sum to 1
    m_cat_bin: np.ndarray  # (M, C) float32 0/1
    m_text: np.ndarray  # (M, T) float32
    m_track: np.ndarray  # (M,) float32, NaN filled with the prior

    @classmethod
    def fit(cls, mentors: MentorTable, policy: Policy, seed: int = 0) -> FeatureSpace:
        """Fit on a mentor table."""
        text, m_text = fit_text_model(mentors.texts, seed)
        cat_bin = mentors.categories.toarray().astype(np.float32)
        if m_text is None:
            m_text = np.zeros((len(mentors), 0), np.float32)
        track = np.where(np.isnan(mentors.track_record), policy.track_prior, mentors.track_record)
        return cls(
            taxonomy.compatibility_matrix(),
            text,
            policy.track_prior,
            _row_normalise(cat_bin),
            cat_bin,
            m_text,
            track.astype(np.float32),
        )

    @cached_property
    def m_cat_idx(self) -> np.ndarray:
        """(M, L) int64 category indices of each mentor, -1 padded (from m_cat_bin)."""
        m, c = np.nonzero(self.m_cat_bin)
        lens = np.bincount(m, minlength=len(self.m_cat_bin))
        out = np.full((len(self.m_cat_bin), max(int(lens.max()) if len(lens) else 0, 1)), -1, np.int64)
        out[m, np.arange(len(m)) - np.repeat(np.cumsum(lens) - lens, lens)] = c
        return out

    @cached_property
    def m_cat_bits(self) -> np.ndarray | None:
        """(M,) uint64 category bit set of each mentor (None over 64 categories)."""
        return index_bits(self.m_cat_idx, self.m_cat_bin.shape[1])

    def mentor_keys(self, mentors: MentorTable) -> np.ndarray:
        """(M, d) float32 mentor side of the retrieval inner product."""
        return np.hstack(
            [
                self.m_cat_norm,
                mentors.resources.astype(np.float32),
                mentors.channels.astype(np.float32),
                mentors.languages.astype(np.float32),
                self.m_text,
                self.m_track[:, None],
            ]
        ).astype(np.float32)

    def newcomer_text(self, newcomers: NewcomerTable, rows: np.ndarray) -> np.ndarray:
        """(len(rows), T) text embedding of some newcomers."""
        if self.text is None or newcomers.texts is None:
            return np.zeros((len(rows), self.m_text.shape[1]), np.float32)
        return self.text.transform([newcomers.texts[i] for i in rows])

    def product_relevance(self, n_cat: np.ndarray) -> np.ndarray:
        """(n, C) float32 mean compatibility row of each newcomer's categories (all of them if none).

        0/1 flags times float32 values sum without rounding in float64, whatever the order, so a row's
        query does not depend on the other rows of its batch: a block, a shard or a pruned tile gets the
        same bits (a float32 GEMM row does depend on the batch's shape).
        """
        counts = n_cat.sum(axis=1, keepdims=True, dtype=np.float64)
        sums = np.where(counts > 0, n_cat.astype(np.float64), 1.0) @ self.compat.astype(np.float64)
        return (sums / np.where(counts > 0, counts, n_cat.shape[1])).astype(np.float32)

    def newcomer_queries(
        self,
        newcomers: NewcomerTable,
        rows: np.ndarray,
        weights: Mapping[str, float],
        n_text: np.ndarray | None = None,
        n_cat: np.ndarray | None = None,
    ) -> np.ndarray:
        """(len(rows), d) float32 newcomer side: weights folded in, so the product is the score.

        n_text / n_cat, if given, are the precomputed text embedding / dense categories of these rows.
        """
        product = self.product_relevance(newcomers.dense_categories(rows) if n_cat is None else n_cat)
        need = newcomers.resources[rows]
        res = weights["resources"] * _row_normalise(need)
        for j, flag in enumerate(RESOURCE_FLAGS):
            res[:, j] += weights.get(flag, 0.0) * need[:, j]
        return np.hstack(
            [
                weights["product"] * product,
                res,
                weights["channels"] * _row_normalise(newcomers.channels[rows]),
                weights["language"] * _row_normalise(newcomers.languages[rows]),
                weights["text"] * (self.newcomer_text(newcomers, rows) if n_text is None else n_text),
                np.full((len(rows), 1), weights["track"], np.float32),
            ]
        ).astype(np.float32)


def distance_band_score(km: np.ndarray) -> np.ndarray:
    """Closer is better for logistics and dialect: 1.0 under 300 km, then 0.75, 0.5, 0.25."""
    band = np.zeros(np.shape(km), np.int64)
    for edge in DISTANCE_BANDS_KM:  # the number of edges at or below km: a few compares, no search
        band += km >= edge
    return np.asarray(DISTANCE_BAND_SCORES, dtype=np.float32)[band]


def pair_features(
    space: FeatureSpace,
    mentors: MentorTable,
    newcomers: NewcomerTable,
    mentor_rows: np.ndarray,
    newcomer_rows: np.ndarray,
    *,
    n_text_all: np.ndarray | None = None,
    km: np.ndarray | None = None,
    chunk: int = 65_536,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """(n_pairs, len(FEATURE_NAMES)) float32 named features of (mentor row, newcomer row) pairs.

    n_text_all, if given, is the precomputed (len(newcomers), T) text embedding of the whole table; km,
    if given, the pairs' distances; out, if given, the (n_pairs, len(FEATURE_NAMES)) float32 array to
    fill (e.g. columns of a wider one). Newcomer-side vectors are computed once per unique newcomer
    (pools repeat each newcomer), categories are gathered as a few indices per pair, and chunks stay in
    cache.
    """
    mentor_rows = np.asarray(mentor_rows, dtype=np.int64)
    newcomer_rows = np.asarray(newcomer_rows, dtype=np.int64)
    if out is None:
        # Column-major: every feature is written as one column, and scorers read them column by column.
        out = np.zeros((len(mentor_rows), len(FEATURE_NAMES)), dtype=np.float32, order="F")
    if len(mentor_rows) == 0:
        return out
    m_idx = space.m_cat_idx
    m_has = m_idx >= 0
    m_w = np.where(m_has, 1.0 / np.maximum(m_has.sum(axis=1, keepdims=True), 1), 0.0).astype(np.float32)
    m_empty = ~m_has.any(axis=1)
    widths = (mentors.resources.shape[1], mentors.channels.shape[1], mentors.languages.shape[1])
    m_bits = [flag_bits(mentors.resources), flag_bits(mentors.channels), flag_bits(mentors.languages)]
    for start in range(0, len(mentor_rows), chunk):
        m, n = mentor_rows[start : start + chunk], newcomer_rows[start : start + chunk]
        un, inv = group_pairs(n)
        n_idx_u = padded_categories(newcomers.categories, un)
        n_rel = mean_of_rows(space.compat, n_idx_u)  # (u, C)
        mi, mw = m_idx[m], m_w[m]
        o = out[start : start + chunk]
        # product = <relevance of the newcomer's categories, the mentor's normalised categories>; a
        # mentor with no category spreads evenly (as _row_normalise does), i.e. the row's mean.
        o[:, 0] = (n_rel[inv[:, None], np.maximum(mi, 0)] * mw).sum(axis=1)
        empty = m_empty[m]
        if empty.any():
            o[empty, 0] = n_rel.mean(axis=1)[inv[empty]]
        need_u = newcomers.resources[un]
        n_flags = (need_u, newcomers.channels[un], newcomers.languages[un])
        for j, (flags, bits, width) in enumerate(zip(n_flags, m_bits, widths, strict=True)):
            o[:, 1 + j] = share_fit(flag_bits(flags)[inv], bits[m], width)
        if space.m_text.shape[1]:
            n_text = space.newcomer_text(newcomers, un) if n_text_all is None else n_text_all[un]
            o[:, 4] = np.einsum("ij,ij->i", n_text[inv], space.m_text[m])
        o[:, 5] = space.m_track[m]
        if km is None:
            dist = haversine_km(
                newcomers.lat[n].astype(np.float64),
                newcomers.lon[n].astype(np.float64),
                mentors.lat[m].astype(np.float64),
                mentors.lon[m].astype(np.float64),
            )
        else:
            dist = km[start : start + chunk]
        o[:, 6] = distance_band_score(dist)
        same_pref = newcomers.county[n] // 100 == mentors.county[m] // 100
        if space.m_cat_bits is not None:  # one AND per pair instead of comparing index lists
            shared = (index_bits(n_idx_u, space.m_cat_bin.shape[1])[inv] & space.m_cat_bits[m]) != 0
        else:
            shared = shares_category(n_idx_u[inv], mi)
        o[:, 7] = same_pref & shared
        o[:, 8:] = need_u[inv] & mentors.resources[m]
    return out


def shares_category(n_idx: np.ndarray, m_idx: np.ndarray) -> np.ndarray:
    """Per pair: the two -1-padded category index rows have a category in common."""
    out = np.zeros(len(n_idx), bool)
    for a in range(n_idx.shape[1]):
        col = n_idx[:, a]
        hit = (m_idx == col[:, None]).any(axis=1)
        out |= hit & (col >= 0)
    return out
