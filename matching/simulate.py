"""Simulated coordinators ("personas") for measuring whether learning from decisions helps.

A persona has hidden rules over fields Jieduan stores (distance, product perishability, the mentor's
years selling and honours, resources offered against needed, product relation...), turned into an
approval probability. Like people, it is noisy: the draw is deterministic per (persona, seed, newcomer,
mentor), so a re-proposed pair gets the same answer, but rules only shift the odds. Rejections carry
the reason code of the rule that weighed most against the pair. The model is never told the rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from matching.rerank import RERANK_FEATURE_NAMES

Terms = dict[str, np.ndarray]
# A rule: (reason code used when this term weighs most against the pair, term over named features).
Rule = tuple[str, Callable[[dict[str, np.ndarray]], np.ndarray]]


@dataclass(frozen=True)
class Persona:
    """A simulated coordinator: an intercept, rules whose sum is the logit, and a lapse rate."""

    name: str
    description: str
    intercept: float
    rules: tuple[Rule, ...]
    lapse: float = 0.05  # share of decisions taken without looking (a coin flip)

    def logits(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(logit of approval, (n, rules) term values) of each pair's re-ranking features."""
        f = dict(zip(RERANK_FEATURE_NAMES, np.asarray(features, np.float64).T, strict=True))
        terms = np.stack([rule(f) for _, rule in self.rules], axis=1)
        return self.intercept + terms.sum(axis=1), terms

    def decide(
        self, features: np.ndarray, newcomer_ids: np.ndarray, mentor_ids: np.ndarray, seed: int = 0
    ) -> tuple[np.ndarray, np.ndarray]:
        """(approved bool, reject reason code or "" per pair), deterministic per pair."""
        logit, terms = self.logits(features)
        u = pair_uniform(newcomer_ids, mentor_ids, seed, self.name, 0)
        lapse = pair_uniform(newcomer_ids, mentor_ids, seed, self.name, 1) < self.lapse
        coin = pair_uniform(newcomer_ids, mentor_ids, seed, self.name, 2) < 0.5
        approved = np.where(lapse, coin, u < 1.0 / (1.0 + np.exp(-logit)))
        codes = np.array([code for code, _ in self.rules] + ["other"])
        worst = np.where(terms.min(axis=1) < 0, terms.argmin(axis=1), len(self.rules))
        return approved, np.where(approved, "", codes[worst])


@dataclass(frozen=True)
class Outcome:
    """A simulated business outcome of an approved pair (a first sale within 90 days, say).

    Like a persona it has hidden rules over stored fields, deterministic per pair and noisy, but it is
    what happens after the match, not what a coordinator thinks of it: the label of the outcome arm.
    """

    name: str
    description: str
    intercept: float
    rules: tuple[Callable[[dict[str, np.ndarray]], np.ndarray], ...]

    def succeeded(
        self, features: np.ndarray, newcomer_ids: np.ndarray, mentor_ids: np.ndarray, seed: int = 0
    ) -> np.ndarray:
        """Bool per pair: did the match succeed (deterministic per pair)."""
        f = dict(zip(RERANK_FEATURE_NAMES, np.asarray(features, np.float64).T, strict=True))
        logit = self.intercept + sum(rule(f) for rule in self.rules)
        u = pair_uniform(newcomer_ids, mentor_ids, seed, self.name, 3)
        return u < 1.0 / (1.0 + np.exp(-logit))


OUTCOME = Outcome(
    "first_sale_90d",
    "a first sale within 90 days: the needs covered, a mentor who keeps commitments, a newcomer with "
    "internet, and a chain partner who buys or supplies",
    -0.4,
    (
        lambda f: 1.6 * (f["resources"] - 0.6),
        lambda f: 3.0 * (f["fulfilment_rate"] - 0.7),
        lambda f: 0.5 * (f["internet"] - 1.0),
        lambda f: 0.7 * f["chain_link"],
    ),
)


def pair_uniform(
    newcomer_ids: np.ndarray, mentor_ids: np.ndarray, seed: int, name: str, stream: int
) -> np.ndarray:
    """A uniform number in [0, 1) per (seed, persona, stream, newcomer, mentor): splitmix64 of the ids."""
    salt = np.uint64(sum(ord(ch) * 131**i for i, ch in enumerate(name)) % (2**61))
    with np.errstate(over="ignore"):
        x = (
            np.asarray(newcomer_ids, np.uint64) * np.uint64(0x9E3779B97F4A7C15)
            ^ np.asarray(mentor_ids, np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F)
            ^ (np.uint64(seed) * np.uint64(0x165667B19E3779F9) + salt + np.uint64(stream))
        )
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(np.float64) / float(2**53)


PERSONAS: tuple[Persona, ...] = (
    Persona(
        "fresh_logistics",
        "fresh produce must be near and the mentor must bring a cold chain; any product needs a mentor "
        "who sells on the newcomer's channels",
        0.4,
        (
            ("too_far", lambda f: -3.5 * f["perishable_x_distance"] / 1000.0),
            ("mentor_unsuitable", lambda f: -2.2 * f["cold_chain_gap"]),
            ("not_complementary", lambda f: 1.2 * (f["need_logistics_met"] - 0.5)),
            ("mentor_unsuitable", lambda f: 2.5 * (f["channels"] - 0.4)),
        ),
    ),
    Persona(
        "veteran_mentors",
        "only seasoned, honoured mentors: years selling and a city-level honour or better",
        -0.4,
        (
            ("mentor_unsuitable", lambda f: 0.28 * (f["years_selling"] - 8.0)),
            ("mentor_unsuitable", lambda f: 1.4 * (f["honours_level"] >= 2) - 0.3),
        ),
    ),
    Persona(
        "track_record",
        "a mentor with a long, good fulfilment record who covers every need",
        0.6,
        (
            ("not_complementary", lambda f: -1.5 * f["uncovered_needs"]),
            (
                "mentor_unsuitable",
                lambda f: 8.0 * (f["fulfilment_rate"] - 0.75) * (f["fulfilment_periods"] >= 3),
            ),
            ("mentor_unsuitable", lambda f: -1.6 * (f["fulfilment_periods"] < 3)),
        ),
    ),
    Persona(
        "chain_builder",
        "prefers chain partners over the same product, and no same-province copying",
        -0.2,
        (
            ("not_complementary", lambda f: 1.8 * f["chain_link"] - 0.6 * f["same_product"]),
            ("same_market", lambda f: -1.5 * f["same_province"] * f["same_product"]),
        ),
    ),
    Persona(
        "issue_mix",
        "near for fresh produce, experienced and honoured mentors, resources that cover the needs",
        0.3,
        (
            ("too_far", lambda f: -1.6 * f["perishable_x_distance"] / 1000.0),
            (
                "mentor_unsuitable",
                lambda f: 0.15 * (f["years_selling"] - 8.0) + 0.6 * (f["honours_count"] > 0),
            ),
            ("not_complementary", lambda f: -1.0 * f["uncovered_needs"]),
        ),
    ),
)


def persona(name: str) -> Persona:
    """A persona by name."""
    return next(p for p in PERSONAS if p.name == name)
