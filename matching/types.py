"""Columnar containers in and out of the model: plain int ids, NumPy arrays, SciPy sparse matrices.

One row per profile, one array per field, so a million newcomers cost a few hundred MB, not a
million Python objects. Build them from the app's plain dicts with `from_records`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Literal

import numpy as np
import scipy.sparse as sp

from matching import taxonomy, vocab
from matching.regions import LEVEL_DIVISOR, counties

_CHANNEL_POS = {c: i for i, c in enumerate(vocab.CHANNELS)}
_RESOURCE_POS = {r: i for i, r in enumerate(vocab.RESOURCE_TYPES)}
_LANGUAGE_POS = {c: i for i, c in enumerate(vocab.LANGUAGES)}
_KIND_POS = {k: i for i, k in enumerate(vocab.MENTOR_KINDS)}
_BAND_POS = {b[0]: i for i, b in enumerate(vocab.SALES_BANDS)}
_INTERNET_POS = {x: i for i, x in enumerate(vocab.INTERNET_LEVELS)}


def _fill_optional(table: Any, optional: Mapping[str, Any], fill: Mapping[str, float]) -> None:
    """Give optional columns omitted by a caller (length 0) their 'unknown' value on every row."""
    n = len(table.ids)
    for name, dtype in optional.items():
        if n and len(getattr(table, name)) == 0:
            object.__setattr__(table, name, np.full(n, fill.get(name, 0), dtype=dtype))


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
    # Optional (filled with "unknown" when omitted): what a coordinator looks at beyond the match score.
    honours_count: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    honours_level: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))  # 0 none .. 4 national
    fulfilment_periods: np.ndarray = field(
        default_factory=lambda: np.zeros(0, np.int16)
    )  # periods behind rate
    past_approvals: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    past_declines: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))

    _OPTIONAL: ClassVar[dict[str, Any]] = {
        "honours_count": np.int8,
        "honours_level": np.int8,
        "fulfilment_periods": np.int16,
        "past_approvals": np.int32,
        "past_declines": np.int32,
    }

    def __post_init__(self) -> None:
        _fill_optional(self, self._OPTIONAL, {})
        super().__post_init__()

    @classmethod
    def from_records(cls, records: Sequence[Mapping[str, Any]]) -> MentorTable:
        """Build from dicts with keys: id, county_code, lat?, lon?, products, channels, resources_offered,
        languages, capacity_left, fulfilment_rate?, years_selling?, kind?, sales_band?, text?."""
        cols = _common_columns(records, "resources_offered")
        rate = [r.get("fulfilment_rate") for r in records]
        honours = [list(r.get("honours") or ()) for r in records]
        return cls(
            **cols,
            capacity_left=np.array([int(r.get("capacity_left", 0)) for r in records], dtype=np.int32),
            track_record=np.array([np.nan if v is None else v for v in rate], dtype=np.float32),
            years_selling=np.array([float(r.get("years_selling") or 0) for r in records], dtype=np.float32),
            kind=np.array([_KIND_POS[r.get("kind") or "household"] for r in records], dtype=np.int8),
            sales_band=np.array(
                [_BAND_POS.get(r.get("sales_band") or "", -1) for r in records], dtype=np.int8
            ),
            honours_count=np.array([min(len(h), 100) for h in honours], dtype=np.int8),
            honours_level=np.array(
                [max((vocab.honour_level(x) for x in h), default=0) for h in honours], dtype=np.int8
            ),
            fulfilment_periods=np.array([int(r.get("fulfilment_periods") or 0) for r in records], np.int16),
            past_approvals=np.array([int(r.get("past_approvals") or 0) for r in records], np.int32),
            past_declines=np.array([int(r.get("past_declines") or 0) for r in records], np.int32),
        )


@dataclass(frozen=True, eq=False)
class NewcomerTable(_Profiles):
    """Newcomers, columnar. `resources` are the types needed."""

    has_active_mentor: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    penetration: np.ndarray = field(
        default_factory=lambda: np.zeros(0, np.float32)
    )  # county e-com, NaN=unknown
    experience_years: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    internet: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))  # vocab.INTERNET_LEVELS
    courier_km: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))  # NaN = unknown

    _OPTIONAL: ClassVar[dict[str, Any]] = {"internet": np.int8, "courier_km": np.float32}

    def __post_init__(self) -> None:
        _fill_optional(self, self._OPTIONAL, {"internet": 1, "courier_km": np.nan})
        super().__post_init__()

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
            internet=np.array(
                [_INTERNET_POS.get(r.get("internet") or "mobile", 1) for r in records], np.int8
            ),
            courier_km=np.array(
                [np.nan if r.get("courier_km") is None else r["courier_km"] for r in records], np.float32
            ),
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
Pairing = Literal["any", "same_trade", "chain", "mixed"]
PAIRINGS: tuple[str, ...] = ("any", "same_trade", "chain", "mixed")


@dataclass(frozen=True)
class Policy:
    """Coordinator-chosen rules of one matching run."""

    separation: Separation = "county"
    max_distance_km: float | None = None
    k: int = 10  # candidates kept per newcomer (and offered to the assignment)
    pool: int | None = None  # retrieved before re-ranking; default 2 * k, or rerank_pool with a re-ranker
    # What a learned re-ranker orders (it never scores the whole table): rerank_pool retrieved mentors
    # plus the rerank_near nearest ones the hard rules allow (retrieval does not rank by distance, and
    # for fresh produce the near mentors are often the ones a coordinator wants); and how many of its
    # re-ranked candidates each newcomer offers the assignment: a learned model agrees on fewer "best"
    # mentors than the default, so with only k their seats run out and newcomers go unmatched. Measured
    # (bench/RESULTS.md): 20 retrieved + 30 nearest reach a higher ceiling than 50 + 10, and retrieve no
    # more than a run without the re-ranker.
    rerank_pool: int = 20
    rerank_k: int = 15
    rerank_near: int = 30
    pairing_pool: int = 50  # retrieved when a pairing mode filters the pool (chain partners are rarer)
    # Share of newcomers whose proposal is drawn from their pool outside the top choice, flagged with its
    # propensity: without it a learned model only ever sees its own choices.
    exploration: float = 0.05
    # Which product relations a run pairs: "any" (by score), "same_trade" (identical product), "chain"
    # (one link up or down the chain), or "mixed" (about chain_share of newcomers get a chain partner).
    pairing: Pairing = "any"
    chain_share: float = 0.5
    # Cooperation corridors (region code, region code), any level: pairs across one get a flag feature.
    corridors: tuple[tuple[str, str], ...] = ()
    same_product_same_prefecture: Literal["penalise", "exclude"] = "penalise"
    weights: Weights = field(default_factory=Weights)
    use_equity: bool = True
    track_prior: float = 0.5  # fulfilment rate assumed for a mentor without history
    index: Literal["exact", "faiss", "auto"] = "exact"
    # The exact search skips (newcomer, mentor category) tiles whose score bound cannot reach the pool
    # (matching.pruning); False multiplies every pair (the reference: the same pools, bit for bit).
    prune: bool = True
    faiss_nprobe: int = 48
    block_rows: int = 2048  # newcomers per GEMM block: bounds memory to block_rows * mentors floats

    def __post_init__(self) -> None:
        if self.separation not in LEVEL_DIVISOR:
            raise ValueError(f"separation must be one of {tuple(LEVEL_DIVISOR)}")
        if self.same_product_same_prefecture not in ("penalise", "exclude"):
            raise ValueError("same_product_same_prefecture must be 'penalise' or 'exclude'")
        if self.k < 1 or self.rerank_k < 1 or self.rerank_near < 0:
            raise ValueError("k and rerank_k must be >= 1, rerank_near >= 0")
        if self.pairing not in PAIRINGS:
            raise ValueError(f"pairing must be one of {PAIRINGS}")
        if not 0.0 <= self.exploration <= 0.5 or not 0.0 <= self.chain_share <= 1.0:
            raise ValueError("exploration must lie in [0, 0.5] and chain_share in [0, 1]")

    @property
    def pool_size(self) -> int:
        """How many mentors retrieval returns before re-ranking."""
        return max(self.pool or 2 * self.k, self.k)

    def pool_for(self, learned: bool, pairing: bool = False) -> int:
        """Pool size of a run: at least rerank_pool with a re-ranker, pairing_pool with a pairing mode."""
        return max(self.pool_size, self.rerank_pool if learned else 0, self.pairing_pool if pairing else 0)


@dataclass(frozen=True)
class Commitment:
    """A suggested resource-sharing commitment of one proposal."""

    resource: str  # vocab.RESOURCE_TYPES
    area: str  # vocab.AREAS
    description_zh: str
    description_en: str
    cadence_days: int  # days between check-ins; the first one is due after this many days
