"""ProposalSet: the columnar output of a matching run, with lazy explanations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from matching.explain import Lang, reasons, suggested_commitments
from matching.score import PART_NAMES
from matching.types import Commitment, MentorTable, NewcomerTable


@dataclass(frozen=True, eq=False)
class ProposalSet:
    """One row per proposed (newcomer, mentor) pair, columnar."""

    newcomer_id: np.ndarray  # int64
    mentor_id: np.ndarray  # int64
    score: np.ndarray  # float32 ranking score (weighted parts, or the learned approval probability)
    value: np.ndarray  # float32 score + equity bonus: what the assignment maximised
    parts: np.ndarray  # (n, len(PART_NAMES)) float32 raw parts in [0, 1]
    rank: np.ndarray  # int32, 1 = the newcomer's best-scored candidate
    newcomer_row: np.ndarray  # rows of the input tables, for explanations
    mentor_row: np.ndarray
    mentors: MentorTable
    newcomers: NewcomerTable
    part_names: tuple[str, ...] = PART_NAMES
    explored: np.ndarray | None = None  # bool: drawn outside the newcomer's top choice (exploration)
    propensity: np.ndarray | None = None  # float32: probability the policy gave this proposal's draw

    def __post_init__(self) -> None:
        n = len(self.newcomer_id)
        if self.explored is None:
            object.__setattr__(self, "explored", np.zeros(n, bool))
        if self.propensity is None:
            object.__setattr__(self, "propensity", np.ones(n, np.float32))

    def __len__(self) -> int:
        return len(self.newcomer_id)

    def parts_of(self, i: int) -> dict[str, float]:
        """Named score parts of proposal i."""
        return {name: float(v) for name, v in zip(self.part_names, self.parts[i], strict=True)}

    def explain(self, i: int, lang: Lang = "zh") -> list[str]:
        """Reasons for proposal i, in Chinese ("zh") or English ("en")."""
        return reasons(
            self.mentors,
            self.newcomers,
            int(self.mentor_row[i]),
            int(self.newcomer_row[i]),
            self.parts_of(i),
            lang,
        )

    def commitments(self, i: int) -> tuple[Commitment, ...]:
        """Suggested resource-sharing commitments of proposal i."""
        return suggested_commitments(
            self.mentors, self.newcomers, int(self.mentor_row[i]), int(self.newcomer_row[i])
        )

    def to_records(self, *, explain: bool = False) -> list[dict[str, Any]]:
        """Plain dicts (JSON-able) for storage; explanations and commitments only if asked."""
        out = []
        for i in range(len(self)):
            rec: dict[str, Any] = {
                "newcomer_id": int(self.newcomer_id[i]),
                "mentor_id": int(self.mentor_id[i]),
                "score": float(self.score[i]),
                "value": float(self.value[i]),
                "rank": int(self.rank[i]),
                "parts": self.parts_of(i),
                "explored": bool(self.explored[i]),
                "propensity": float(self.propensity[i]),
            }
            if explain:
                rec["reasons_zh"] = self.explain(i, "zh")
                rec["reasons_en"] = self.explain(i, "en")
                rec["commitments"] = [c.__dict__ for c in self.commitments(i)]
            out.append(rec)
        return out


def empty_like(mentors: MentorTable, newcomers: NewcomerTable) -> ProposalSet:
    """A ProposalSet with no rows."""
    z = np.zeros(0, np.int64)
    return ProposalSet(
        z,
        z,
        np.zeros(0, np.float32),
        np.zeros(0, np.float32),
        np.zeros((0, len(PART_NAMES)), np.float32),
        np.zeros(0, np.int32),
        z,
        z,
        mentors,
        newcomers,
    )
