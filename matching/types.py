"""Columnar containers in and out of the model: plain int ids, NumPy arrays, SciPy sparse matrices.

One row per profile, one array per field, so a million newcomers cost a few hundred MB, not a
million Python objects. Build them from the app's plain dicts with `from_records`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp

from matching import taxonomy, vocab
from matching.regions import LEVEL_DIVISOR, counties

_CHANNEL_POS = {c: i for i, c in enumerate(vocab.CHANNELS)}
_RESOURCE_POS = {r: i for i, r in enumerate(vocab.RESOURCE_TYPES)}
_LANGUAGE_POS = {c: i for i, c in enumerate(vocab.LANGUAGES)}
_KIND_POS = {k: i for i, k in enumerate(vocab.MENTOR_KINDS)}
_BAND_POS = {b[0]: i for i, b in enumerate(vocab.SALES_BANDS)}


def _flags(values: Sequence[str] | None, positions: Mapping[str, int], what: str) -> np.ndarray:
    out = np.zeros(len(positions), dtype=bool)
    for v in values or ():
        if v not in positions:
            raise ValueError(f"unknown {what}: {v!r}")
        out[positions[v]] = True
    return out


def _category_codes(products: Sequence[str] | None) -> list[int]:
    index = taxonomy.category_index()
    cols: list[int] = []
    for word in products or ():
        code = word if word in index else taxonomy.lookup_product(word)
        if code is None:
            raise ValueError(f"unknown product: {word!r}")
        if index[code] not in cols:
            cols.append(index[code])
    return cols


def category_matrix(rows: Sequence[Sequence[int]]) -> sp.csr_matrix:
    """Binary (n, C) CSR matrix from per-row lists of category columns."""
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(r) for r in rows])
    indices = np.fromiter((c for r in rows for c in r), dtype=np.int32, count=int(indptr[-1]))
    data = np.ones(len(indices), dtype=np.float32)
    return sp.csr_matrix((data, indices, indptr), shape=(len(rows), len(taxonomy.CATEGORIES)))


def _common_columns(records: Sequence[Mapping[str, Any]], resource_key: str) -> dict[str, Any]:
    n = len(records)
    county = np.array([int(str(r["county_code"])[:6]) for r in records], dtype=np.int32)
    table = counties()
    pos = table.position(county)
    lat = np.array([np.nan if r.get("lat") is None else r["lat"] for r in records], dtype=np.float32)
    lon = np.array([np.nan if r.get("lon") is None else r["lon"] for r in records], dtype=np.float32)
    # Missing coordinates fall back to the county seat; distance bands need only that precision.
    fill = np.isnan(lat) | np.isnan(lon)
    if (fill & (pos < 0)).any():
        bad = county[fill & (pos < 0)][0]
        raise ValueError(f"county {bad} unknown and no lat/lon given")
    lat[fill], lon[fill] = table.lat[pos[fill]], table.lon[pos[fill]]
    cats = [_category_codes(r.get("products")) for r in records]
    return {
        "ids": np.array([int(r["id"]) for r in records], dtype=np.int64),
        "county": county,
        "lat": lat,
        "lon": lon,
        "categories": category_matrix(cats),
        "primary_category": np.array([c[0] if c else -1 for c in cats], dtype=np.int32),
        "channels": np.stack([_flags(r.get("channels"), _CHANNEL_POS, "channel") for r in records])
        if n
        else np.zeros((0, len(_CHANNEL_POS)), bool),
        "resources": np.stack([_flags(r.get(resource_key), _RESOURCE_POS, "resource") for r in records])
        if n
        else np.zeros((0, len(_RESOURCE_POS)), bool),
        "languages": np.stack([_flags(r.get("languages"), _LANGUAGE_POS, "language") for r in records])
        if n
        else np.zeros((0, len(_LANGUAGE_POS)), bool),
        "texts": tuple(str(r.get("text") or "") for r in records),
    }


@dataclass(frozen=True, eq=False)
class _Profiles:
    ids: np.ndarray  # int64, unique
    county: np.ndarray  # int32 six-digit county code
    lat: np.ndarray  # float32
    lon: np.ndarray  # float32
    categories: sp.csr_matrix  # (n, C) binary, columns per taxonomy.category_index()
    primary_category: np.ndarray  # int32 column of the first product, -1 if none
    channels: np.ndarray  # (n, len(CHANNELS)) bool
    resources: np.ndarray  # (n, 4) bool: offered (mentors) or needed (newcomers)
    languages: np.ndarray  # (n, len(LANGUAGES)) bool
    texts: tuple[str, ...] | None  # free text (story, goals); None skips the text feature

    def __post_init__(self) -> None:
        n = len(self.ids)
        for f in fields(self):
            value = getattr(self, f.name)
            rows = len(value) if isinstance(value, tuple) else None if value is None else value.shape[0]
            if rows is not None and rows != n:
                raise ValueError(f"column {f.name} has {rows} rows, expected {n}")
        if len(np.unique(self.ids)) != n:
            raise ValueError("ids must be unique")

    def __len__(self) -> int:
        return len(self.ids)

    def dense_categories(self, rows: np.ndarray) -> np.ndarray:
        """(len(rows), C) float32 0/1 categories of some rows: a CSR gather without scipy's overhead."""
        rows = np.asarray(rows, dtype=np.int64)
        cats = self.categories
        starts = cats.indptr[rows].astype(np.int64)
        lens = cats.indptr[rows + 1] - starts
        out = np.zeros((len(rows), cats.shape[1]), dtype=np.float32)
        owner = np.repeat(np.arange(len(rows)), lens)
        pos = np.arange(int(lens.sum())) + np.repeat(starts - (np.cumsum(lens) - lens), lens)
        out[owner, cats.indices[pos]] = cats.data[pos]
        return out

    def level_codes(self, level: str) -> np.ndarray:
        """Region code at a separation level: county (6 digits), prefecture (4) or province (2)."""
        return self.county // LEVEL_DIVISOR[level]

    def rows_of(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Row positions of ids; raises KeyError on an unknown id."""
        order = np.argsort(self.ids, kind="stable")
        ids = np.asarray(ids, dtype=np.int64)
        pos = np.searchsorted(self.ids, ids, sorter=order)
        pos = np.clip(pos, 0, max(len(order) - 1, 0))
        rows = order[pos] if len(order) else pos
        if len(ids) and (len(order) == 0 or (self.ids[rows] != ids).any()):
            raise KeyError("unknown id")
        return rows

    def take(self, rows: np.ndarray) -> Any:
        """A new table with the given rows, in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        values = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if v is None:
                values[f.name] = None
            elif isinstance(v, tuple):
                values[f.name] = tuple(v[i] for i in rows)
            else:
                values[f.name] = v[rows]
        return type(self)(**values)


@dataclass(frozen=True, eq=False)
class MentorTable(_Profiles):
    """Mentors, columnar. `resources` are the types offered."""

    capacity_left: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))  # int32
    track_record: np.ndarray = field(
        default_factory=lambda: np.zeros(0, np.float32)
    )  # fulfilment, NaN=unknown
    years_selling: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    kind: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))  # index into vocab.MENTOR_KINDS
    sales_band: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))  # vocab.SALES_BANDS, -1

    @classmethod
    def from_records(cls, records: Sequence[Mapping[str, Any]]) -> MentorTable:
        """Build from dicts with keys: id, county_code, lat?, lon?, products, channels, resources_offered,
        languages, capacity_left, fulfilment_rate?, years_selling?, kind?, sales_band?, text?."""
        cols = _common_columns(records, "resources_offered")
        rate = [r.get("fulfilment_rate") for r in records]
        return cls(
            **cols,
            capacity_left=np.array([int(r.get("capacity_left", 0)) for r in records], dtype=np.int32),
            track_record=np.array([np.nan if v is None else v for v in rate], dtype=np.float32),
            years_selling=np.array([float(r.get("years_selling") or 0) for r in records], dtype=np.float32),
            kind=np.array([_KIND_POS[r.get("kind") or "household"] for r in records], dtype=np.int8),
            sales_band=np.array(
                [_BAND_POS.get(r.get("sales_band") or "", -1) for r in records], dtype=np.int8
            ),
        )


@dataclass(frozen=True, eq=False)
class NewcomerTable(_Profiles):
    """Newcomers, columnar. `resources` are the types needed."""

    has_active_mentor: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    penetration: np.ndarray = field(
        default_factory=lambda: np.zeros(0, np.float32)
    )  # county e-com, NaN=unknown
    experience_years: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))

    @classmethod
    def from_records(cls, records: Sequence[Mapping[str, Any]]) -> NewcomerTable:
        """Build from dicts with keys: id, county_code, lat?, lon?, products, channels, resources_needed,
        languages, has_active_mentor?, county_penetration?, experience_years?, text?."""
        cols = _common_columns(records, "resources_needed")
        pen = [r.get("county_penetration") for r in records]
        return cls(
            **cols,
            has_active_mentor=np.array([bool(r.get("has_active_mentor")) for r in records], dtype=bool),
            penetration=np.array([np.nan if v is None else v for v in pen], dtype=np.float32),
            experience_years=np.array([float(r.get("experience_years") or 0) for r in records], np.float32),
        )


@dataclass(frozen=True)
class Weights:
    """Default weights of the interpretable score parts (all parts lie in [0, 1])."""

    product: float = 0.35
    resources: float = 0.20
    channels: float = 0.08
    language: float = 0.08
    text: float = 0.04
    track: float = 0.10
    distance: float = 0.10
    homogenization: float = -0.30  # penalty: same leaf category in the mentor's own prefecture
    equity: float = 0.01  # assignment bonus for newcomers of under-served counties


Separation = Literal["county", "prefecture", "province"]


@dataclass(frozen=True)
class Policy:
    """Coordinator-chosen rules of one matching run."""

    separation: Separation = "county"
    max_distance_km: float | None = None
    k: int = 10  # candidates kept per newcomer (and offered to the assignment)
    pool: int | None = None  # retrieved before re-ranking; default 2 * k
    same_product_same_prefecture: Literal["penalise", "exclude"] = "penalise"
    weights: Weights = field(default_factory=Weights)
    use_equity: bool = True
    track_prior: float = 0.5  # fulfilment rate assumed for a mentor without history
    index: Literal["exact", "faiss", "auto"] = "exact"
    faiss_nprobe: int = 48
    block_rows: int = 2048  # newcomers per GEMM block: bounds memory to block_rows * mentors floats

    def __post_init__(self) -> None:
        if self.separation not in LEVEL_DIVISOR:
            raise ValueError(f"separation must be one of {tuple(LEVEL_DIVISOR)}")
        if self.same_product_same_prefecture not in ("penalise", "exclude"):
            raise ValueError("same_product_same_prefecture must be 'penalise' or 'exclude'")
        if self.k < 1:
            raise ValueError("k must be >= 1")

    @property
    def pool_size(self) -> int:
        """How many mentors retrieval returns before re-ranking."""
        return max(self.pool or 2 * self.k, self.k)


@dataclass(frozen=True)
class Commitment:
    """A suggested resource-sharing commitment of one proposal."""

    resource: str  # vocab.RESOURCE_TYPES
    area: str  # vocab.AREAS
    description_zh: str
    description_en: str
    cadence_days: int  # days between check-ins; the first one is due after this many days
