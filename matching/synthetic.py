"""Realistic synthetic populations (tests, benchmarks, the app's demo seed) and coordinator decisions.

Real county codes and coordinates (matching/data/counties.csv); products clustered by province as in
reality (tea in Fujian/Yunnan/Zhejiang/Guizhou, fruit in Shaanxi/Guangxi/Xinjiang, flowers in
Jiangsu/Yunnan, seafood on the coast...); dialects by province. Everything is deterministic by seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from matching import synthetic_display as disp
from matching import taxonomy, vocab
from matching.features import FEATURE_NAMES, pair_features
from matching.pipeline import build_index, find_candidates
from matching.regions import counties
from matching.types import MentorTable, NewcomerTable, Policy, category_matrix

# Province code -> leaf categories it is known for (sampled 70% of the time; the rest is generic).
SPECIALTIES: dict[int, tuple[str, ...]] = {
    11: ("food.baked", "fruit.berries"),
    12: ("food.snacks", "aquatic.seafood"),
    13: ("fruit.apple_pear", "nuts.growing", "herbs.growing"),
    14: ("grain.coarse", "fruit.dried", "food.sauces"),
    15: ("livestock.cattle_sheep", "livestock.dairy", "livestock.meat_processing"),
    21: ("aquatic.seafood", "aquatic.dried", "fruit.apple_pear"),
    22: ("grain.rice", "herbs.growing", "grain.coarse"),
    23: ("grain.rice", "grain.coarse", "veg.mushrooms"),
    31: ("food.baked", "veg.fresh"),
    32: ("flowers.seedlings", "flowers.pots_miniascape", "aquatic.freshwater", "apparel.home_textiles"),
    33: ("tea.growing", "tea.processing", "nuts.growing", "crafts.bamboo_rattan", "aquatic.seafood"),
    34: ("tea.processing", "herbs.growing", "nuts.roasted", "grain.rice"),
    35: ("tea.growing", "tea.processing", "tea.packaging_gifts", "aquatic.seafood", "aquatic.dried"),
    36: ("fruit.citrus", "grain.oil", "grain.oilseed", "crafts.pottery"),
    37: (
        "veg.fresh",
        "fruit.apple_pear",
        "apparel.costumes",
        "crafts.woodwork",
        "aquatic.seafood",
        "food.spices",
    ),
    41: ("grain.wheat_flour", "herbs.growing", "food.noodles", "fruit.dried"),
    42: ("aquatic.freshwater", "tea.growing", "fruit.citrus", "veg.mushrooms"),
    43: ("livestock.meat_processing", "tea.processing", "grain.oil", "food.spices"),
    44: ("fruit.tropical", "aquatic.seafood", "tea.processing", "apparel.clothing"),
    45: ("fruit.citrus", "fruit.tropical", "food.noodles", "food.brown_sugar"),
    46: ("fruit.tropical", "aquatic.seafood", "tourism.farm_stay"),
    50: ("food.sauces", "food.snacks", "fruit.citrus"),
    51: (
        "food.spices",
        "food.sauces",
        "livestock.pigs",
        "livestock.meat_processing",
        "tea.growing",
        "fruit.kiwi",
    ),
    52: ("tea.growing", "food.sauces", "herbs.growing", "crafts.textiles"),
    53: ("tea.growing", "tea.processing", "flowers.cut", "herbs.growing", "veg.mushrooms", "fruit.tropical"),
    54: ("herbs.growing", "livestock.cattle_sheep", "livestock.dairy"),
    61: ("fruit.apple_pear", "fruit.kiwi", "fruit.processed", "tea.processing"),
    62: ("herbs.growing", "fruit.apple_pear", "grain.coarse"),
    63: ("livestock.cattle_sheep", "herbs.health_products"),
    64: ("herbs.health_products", "livestock.cattle_sheep", "fruit.grapes"),
    65: ("fruit.grapes", "fruit.dried", "nuts.growing", "livestock.cattle_sheep"),
}
GENERIC = (
    "veg.fresh",
    "livestock.poultry",
    "livestock.eggs",
    "livestock.pigs",
    "grain.rice",
    "honey.beekeeping",
    "fruit.orchard",
    "veg.mushrooms",
    "food.snacks",
)
DIALECTS: dict[int, tuple[str, ...]] = {
    44: ("cantonese", "hakka"),
    35: ("minnan", "hakka"),
    33: ("wu",),
    32: ("wu",),
    31: ("wu",),
    43: ("xiang",),
    36: ("gan", "hakka"),
    14: ("jin",),
    51: ("southwestern_mandarin",),
    50: ("southwestern_mandarin",),
    52: ("southwestern_mandarin",),
    53: ("southwestern_mandarin", "yi"),
    42: ("southwestern_mandarin",),
    45: ("zhuang", "cantonese"),
    65: ("uyghur",),
    54: ("tibetan",),
    15: ("mongolian", "jin"),
    46: ("minnan",),
}
# Rough county e-commerce penetration by province (coast high, west low); counties vary around it.
PENETRATION: dict[int, float] = {
    11: 0.7,
    12: 0.6,
    31: 0.75,
    32: 0.6,
    33: 0.7,
    35: 0.55,
    44: 0.6,
    37: 0.5,
    13: 0.4,
    21: 0.4,
    34: 0.4,
    36: 0.35,
    41: 0.35,
    42: 0.4,
    43: 0.35,
    50: 0.4,
    51: 0.35,
    61: 0.35,
}


@dataclass(frozen=True, eq=False)
class SyntheticPopulation:
    """Mentor and newcomer tables plus display columns (names, stories, phones...) for seeding."""

    mentors: MentorTable
    newcomers: NewcomerTable
    mentor_display: dict[str, list[Any]]
    newcomer_display: dict[str, list[Any]]

    def mentor_records(self) -> list[dict[str, Any]]:
        """Plain dicts with matching fields and display fields, e.g. to seed the app's demo database."""
        return _records(self.mentors, self.mentor_display, "resources_offered")

    def newcomer_records(self) -> list[dict[str, Any]]:
        """Plain dicts with matching fields and display fields."""
        return _records(self.newcomers, self.newcomer_display, "resources_needed")


def _records(
    table: MentorTable | NewcomerTable, display: dict[str, list[Any]], res_key: str
) -> list[dict[str, Any]]:
    codes = [c.code for c in taxonomy.CATEGORIES]
    out = []
    for i in range(len(table)):
        cats = table.categories.indices[table.categories.indptr[i] : table.categories.indptr[i + 1]]
        rec: dict[str, Any] = {
            "id": int(table.ids[i]),
            "county_code": str(table.county[i]),
            "lat": float(table.lat[i]),
            "lon": float(table.lon[i]),
            "products": [codes[c] for c in cats],
            "channels": [c for c, f in zip(vocab.CHANNELS, table.channels[i], strict=True) if f],
            res_key: [r for r, f in zip(vocab.RESOURCE_TYPES, table.resources[i], strict=True) if f],
            "languages": [c for c, f in zip(vocab.LANGUAGES, table.languages[i], strict=True) if f],
            "text": table.texts[i] if table.texts else "",
        }
        if isinstance(table, MentorTable):
            rate = float(table.track_record[i])
            rec.update(
                capacity_left=int(table.capacity_left[i]),
                fulfilment_rate=None if np.isnan(rate) else rate,
                years_selling=float(table.years_selling[i]),
                kind=vocab.MENTOR_KINDS[table.kind[i]],
                sales_band=vocab.SALES_BANDS[table.sales_band[i]][0],
            )
        else:
            pen = float(table.penetration[i])
            rec.update(
                has_active_mentor=bool(table.has_active_mentor[i]),
                county_penetration=None if np.isnan(pen) else pen,
                experience_years=float(table.experience_years[i]),
            )
        rec.update({k: v[i] for k, v in display.items()})
        out.append(rec)
    return out


def _category_priors() -> tuple[np.ndarray, np.ndarray]:
    """(provinces, P x C cumulative probabilities) of primary products by province."""
    idx = taxonomy.category_index()
    provs = np.array(sorted({int(c) // 10000 for c in counties().code}))
    n = len(taxonomy.CATEGORIES)
    prior = np.full((len(provs), n), 0.05 / n)
    for p_i, p in enumerate(provs):
        special = SPECIALTIES.get(int(p), ())
        for code in special:
            prior[p_i, idx[code]] += 0.70 / len(special)
        for code in GENERIC:
            prior[p_i, idx[code]] += (0.25 if special else 0.95) / len(GENERIC)
    prior /= prior.sum(axis=1, keepdims=True)
    return provs, np.cumsum(prior, axis=1)


def _related() -> list[np.ndarray]:
    rel = taxonomy.relation_matrix()
    out = []
    for i in range(rel.shape[0]):
        chain = np.flatnonzero(
            (rel[i] == taxonomy.RELATION_DOWNSTREAM) | (rel[i] == taxonomy.RELATION_UPSTREAM)
        )
        out.append(chain if len(chain) else np.flatnonzero(rel[i] == taxonomy.RELATION_SIBLING))
    return out


def _flags(rng: np.random.Generator, n: int, probs: tuple[float, ...], fallback: int) -> np.ndarray:
    flags = rng.random((n, len(probs))) < np.asarray(probs)
    flags[~flags.any(axis=1), fallback] = True
    return flags


def county_penetration(seed: int = 0) -> np.ndarray:
    """Deterministic e-commerce penetration in [0.02, 0.95] of every county in counties()."""
    rng = np.random.default_rng([seed, 7])
    prov = counties().code // 10000
    base = np.array([PENETRATION.get(int(p), 0.25) for p in prov])
    return np.clip(base + rng.normal(0, 0.12, len(prov)), 0.02, 0.95).astype(np.float32)


def _common(rng: np.random.Generator, n: int, county_weights: np.ndarray) -> dict[str, Any]:
    table = counties()
    c = rng.choice(len(table.code), size=n, p=county_weights / county_weights.sum())
    code = table.code[c]
    provs, cum = _category_priors()
    p_row = np.searchsorted(provs, code // 10000)
    u = rng.random(n)
    primary = np.minimum((cum[p_row] < u[:, None]).sum(axis=1), cum.shape[1] - 1)
    related = _related()
    second = np.full(n, -1)
    has_second = rng.random(n) < 0.35
    pick = rng.random(n)
    for i in np.flatnonzero(has_second):
        options = related[primary[i]]
        if len(options):
            second[i] = options[int(pick[i] * len(options))]
    cats = [[int(a)] if b < 0 else [int(a), int(b)] for a, b in zip(primary, second, strict=True)]
    lang = np.zeros((n, len(vocab.LANGUAGES)), dtype=bool)
    lang_pos = {x: i for i, x in enumerate(vocab.LANGUAGES)}
    lang[:, lang_pos["mandarin"]] = rng.random(n) < 0.92
    dialect_draw, has_dialect = rng.random(n), rng.random(n) < 0.7
    for i in np.flatnonzero(has_dialect):
        options = DIALECTS.get(int(code[i]) // 10000)
        if options:
            lang[i, lang_pos[options[int(dialect_draw[i] * len(options))]]] = True
    lang[~lang.any(axis=1), lang_pos["mandarin"]] = True
    return {
        "county": code.astype(np.int32),
        "lat": (table.lat[c] + rng.normal(0, 0.08, n)).astype(np.float32),
        "lon": (table.lon[c] + rng.normal(0, 0.08, n)).astype(np.float32),
        "categories": category_matrix(cats),
        "primary_category": primary.astype(np.int32),
        "channels": _flags(rng, n, (0.45, 0.4, 0.15, 0.55, 0.3, 0.5), 3),
        "languages": lang,
        "_county_names": [table.name[i] for i in c],
        "_county_pos": c,
    }


def generate_population(
    n_mentors: int, n_newcomers: int, seed: int = 0, *, with_display: bool = True
) -> SyntheticPopulation:
    """Mentors (more in well-served counties) and newcomers (everywhere), deterministic by seed."""
    rng = np.random.default_rng(seed)
    pen = county_penetration(seed)
    m = _common(rng, n_mentors, 0.2 + pen)
    kind = rng.choice(3, size=n_mentors, p=(0.55, 0.3, 0.15)).astype(np.int8)
    offered = _flags(rng, n_mentors, (0.8, 0.7, 0.5, 0.35), 0)
    offered[:, 3] |= (kind == 2) & (rng.random(n_mentors) < 0.6)  # enterprises run their own logistics
    cap = np.array([1, 2, 3])[kind] + rng.integers(0, np.array([2, 3, 6])[kind] + 1)
    active = rng.binomial(cap, 0.3)
    track = rng.beta(6, 2, n_mentors).astype(np.float32)
    track[rng.random(n_mentors) < 0.2] = np.nan
    years = rng.integers(2, 16, n_mentors).astype(np.float32)
    band = np.clip(kind + rng.integers(1, 4, n_mentors), 0, len(vocab.SALES_BANDS) - 1).astype(np.int8)
    m_names, m_pos = m.pop("_county_names"), m.pop("_county_pos")
    del m_pos
    m_texts = (
        tuple(disp.mentor_stories(m_names, m["primary_category"], years, m["channels"], offered))
        if with_display
        else None
    )
    # A separate stream, so adding these columns left every earlier column (and result) unchanged.
    extra = np.random.default_rng([seed, 23])
    honours_n = np.where(extra.random(n_mentors) < 0.4, extra.integers(1, 3, n_mentors), 0).astype(np.int8)
    honours_lv = np.where(honours_n > 0, extra.choice([1, 2, 3, 4], n_mentors, p=(0.45, 0.3, 0.18, 0.07)), 0)
    periods = np.where(np.isnan(track), 0, extra.integers(1, 13, n_mentors)).astype(np.int16)
    approvals = extra.poisson(2.0, n_mentors).astype(np.int32)
    declines = extra.poisson(1.0, n_mentors).astype(np.int32)
    mentors = MentorTable(
        ids=np.arange(1, n_mentors + 1, dtype=np.int64),
        honours_count=honours_n,
        honours_level=honours_lv.astype(np.int8),
        fulfilment_periods=periods,
        past_approvals=approvals,
        past_declines=declines,
        resources=offered,
        texts=m_texts,
        capacity_left=(cap - active).astype(np.int32),
        track_record=track,
        years_selling=years,
        kind=kind,
        sales_band=band,
        **m,
    )

    n = _common(rng, n_newcomers, np.ones_like(pen))
    needed = _flags(rng, n_newcomers, (0.6, 0.7, 0.4, 0.5), 1)
    n_names, n_pos = n.pop("_county_names"), n.pop("_county_pos")
    n_texts = (
        tuple(disp.newcomer_stories(rng, n_names, n["primary_category"], n["channels"], needed))
        if with_display
        else None
    )
    penetration = pen[n_pos].copy()
    penetration[rng.random(n_newcomers) < 0.05] = np.nan  # some counties lack statistics
    newcomers = NewcomerTable(
        ids=np.arange(1, n_newcomers + 1, dtype=np.int64) + 10_000_000,
        resources=needed,
        texts=n_texts,
        has_active_mentor=rng.random(n_newcomers) < 0.05,
        penetration=penetration,
        experience_years=rng.integers(0, 3, n_newcomers).astype(np.float32),
        internet=extra.choice(3, n_newcomers, p=(0.1, 0.6, 0.3)).astype(np.int8),
        courier_km=extra.gamma(2.0, 4.0, n_newcomers).astype(np.float32),
        **n,
    )
    m_disp: dict[str, list[Any]] = {}
    n_disp: dict[str, list[Any]] = {}
    if with_display:
        orders = np.round(rng.lognormal(4 + kind, 0.8)).astype(int)
        m_disp = {
            "name": disp.mentor_names(rng, kind, m_names, mentors.primary_category),
            "phone": disp.phones(rng, n_mentors),
            "honours": disp.honours(rng, n_mentors),
            "orders_per_month": orders.tolist(),
            "employees": (np.array([1, 5, 20])[kind] + rng.integers(0, np.array([3, 15, 80])[kind])).tolist(),
            "county_name": m_names,
        }
        n_disp = {
            "name": disp.person_names(rng, n_newcomers),
            "phone": disp.phones(rng, n_newcomers),
            "county_name": n_names,
        }
    return SyntheticPopulation(mentors, newcomers, m_disp, n_disp)


@dataclass(frozen=True, eq=False)
class Decisions:
    """Past coordinator decisions on proposed pairs."""

    newcomer_ids: np.ndarray
    mentor_ids: np.ndarray
    approved: np.ndarray  # bool


def hidden_preference(features: np.ndarray) -> np.ndarray:
    """Logit of approval coordinators 'really' use: logistics coverage and nearness weigh most."""
    f = dict(zip(FEATURE_NAMES, features.T, strict=True))
    return (
        -3.0
        + 1.5 * f["product"]
        + 3.0 * f["need_logistics_met"]
        + 3.5 * f["distance"]
        + 0.5 * f["track"]
        - 2.0 * f["homogenization"]
    )


def generate_decisions(
    pop: SyntheticPopulation, n_newcomers: int = 2000, per_newcomer: int = 5, seed: int = 0
) -> Decisions:
    """Decisions on each sampled newcomer's top default candidates, drawn from hidden_preference()."""
    rng = np.random.default_rng([seed, 11])
    eligible = np.flatnonzero(~pop.newcomers.has_active_mentor)
    sample = np.sort(rng.choice(eligible, size=min(n_newcomers, len(eligible)), replace=False))
    newcomers = pop.newcomers.take(sample)
    index = build_index(pop.mentors, Policy(k=per_newcomer * 2), seed=seed)
    cand = find_candidates(index, newcomers, seed=seed)
    cols = rng.permuted(np.tile(np.arange(cand.mentor_rows.shape[1]), (len(cand.newcomer_rows), 1)), axis=1)[
        :, :per_newcomer
    ]
    m_rows = np.take_along_axis(cand.mentor_rows, cols, 1)
    n_rows = np.repeat(cand.newcomer_rows[:, None], per_newcomer, 1)
    ok = m_rows >= 0
    m_rows, n_rows = m_rows[ok], n_rows[ok]
    feats = pair_features(index.space, pop.mentors, newcomers, m_rows, n_rows)
    p = 1.0 / (1.0 + np.exp(-hidden_preference(feats)))
    return Decisions(newcomers.ids[n_rows], pop.mentors.ids[m_rows], rng.random(len(p)) < p)
