"""The honour rules: the one documented, versioned place that says what a mentor must do to earn one.

Every rule reads per-mentor figures over a period and a jurisdiction (the newcomers' counties):

- reach      带徒标兵 Mentor of many: at least 5 distinct newcomers whose match became active in the period.
- fulfilment 守信导师 Promise keeper: fulfilment (done + ½ partial) / all periods ≥ 90 %, over ≥ 12 periods.
- outcomes   致富领头雁 Lead goose: at least 3 newcomers with a first online sale within 90 days.
- ratings    好评导师 Highly rated: newcomers' mean rating ≥ 4.5 over at least 3 ratings.

Change a threshold or add a rule only together with RULES_VERSION: each honour stores the version that
awarded it, so an old certificate still says which rules it was judged by.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from anyascii import anyascii

RULES_VERSION = "2026.12-1"


@dataclass(frozen=True, slots=True)
class HonourRule:
    """One rule: a metric at or above a threshold, with enough support (periods or ratings) behind it."""

    code: str
    title_zh: str
    title_en: str
    metric: str
    threshold: float
    support: str | None = None
    min_support: int = 0

    def qualifies(self, figures: dict[str, Any]) -> bool:
        """Whether one mentor's figures earn this honour."""
        value = figures.get(self.metric)
        if value is None or value < self.threshold:
            return False
        return self.support is None or (figures.get(self.support) or 0) >= self.min_support


RULES: tuple[HonourRule, ...] = (
    HonourRule("reach", "带徒标兵", "Mentor of many", "newcomers_reached", 5),
    HonourRule("fulfilment", "守信导师", "Promise keeper", "fulfilment_rate", 0.9, "periods", 12),
    HonourRule("outcomes", "致富领头雁", "Lead goose", "first_sale_90d", 3),
    HonourRule("ratings", "好评导师", "Highly rated mentor", "mean_rating", 4.5, "ratings", 3),
)
BY_CODE = {r.code: r for r in RULES}
# Titles this module awards; any other entry of a profile's honours came from an import and is kept.
AWARDED_TITLES = frozenset(r.title_zh for r in RULES)


def title_key(title: str) -> str:
    """A title as a reader takes it in: its sound in Latin letters, letters and digits only, case folded.

    帶徒標兵 (traditional), 帯徒標兵 (a Japanese form), 致富领头鴈 (a variant of 雁), ＂带 徒 标 兵＂ and
    "Lеad goose" with a Cyrillic е all read as the title on a profile, so they compare equal: anyascii
    spells every script in Latin letters (带徒标兵 → DaiTuBiaoBing).
    """
    spelled = anyascii(unicodedata.normalize("NFKC", title))
    return "".join(c for c in spelled if c.isalnum()).casefold()


# Each awarded title in both languages, as `title_key` spells it.
_AWARDED_KEYS = tuple(title_key(t) for r in RULES for t in (r.title_zh, r.title_en))


def awarded_among(titles: list[str] | tuple[str, ...]) -> list[str]:
    """The entries that claim a title only this module awards: no profile edit or import may set them.

    An entry claims one when it holds the title in any spelling a reader would take for it, alone or
    inside a longer text (县级带徒標兵 still shows 带徒标兵 to whoever reads the profile).
    """
    return [t for t in titles if any(key in title_key(t) for key in _AWARDED_KEYS)]


def not_held(given: list[str], held: list[str]) -> list[str]:
    """Awarded titles an edit sends that the profile does not hold: an edit may only send back its own."""
    return [t for t in given if t in AWARDED_TITLES and t not in held]


def keeping_awarded(given: list[str], held: list[str]) -> list[str]:
    """A profile's honours after an edit sends `given`: those, then the awarded titles it already holds.

    An edit replaces what the seller or office wrote; a confirmed honour is revoked only by a coordinator.
    """
    return given + [t for t in held if t in AWARDED_TITLES and t not in given]
