"""Real-time recommendations for one newcomer against a mentor index built once."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from matching.candidates import exclusion_arrays
from matching.pipeline import build_index, proposals_from
from matching.proposals import ProposalSet, empty_like
from matching.stages import Reranker, second_stage
from matching.types import MentorTable, NewcomerTable, Policy


class Recommender:
    """Build once per mentor table (features, sorted keys); then recommend() in about a millisecond."""

    def __init__(
        self,
        mentors: MentorTable,
        policy: Policy | None = None,
        *,
        ranker: Reranker | None = None,
        seed: int = 0,
    ) -> None:
        self.policy = policy or Policy()
        self.index = build_index(mentors, self.policy, ranker=ranker, seed=seed)

    def recommend(
        self,
        newcomer: Mapping[str, Any] | NewcomerTable,
        k: int | None = None,
        *,
        exclude_mentor_ids: Iterable[int] = (),
    ) -> ProposalSet:
        """Top-k (k <= policy.pool_size) ranked mentors for one newcomer (record dict or one-row table).

        Capacity competition with other newcomers is ignored here (that is propose()'s job); mentors
        with no capacity left, the newcomer's own region and excluded mentors never appear. The
        equity part is 0: a tier only exists relative to a population.
        """
        table = newcomer if isinstance(newcomer, NewcomerTable) else NewcomerTable.from_records([newcomer])
        if len(table) != 1:
            raise ValueError("recommend() takes exactly one newcomer")
        index = self.index
        if table.has_active_mentor[0] or index.size == 0:
            return empty_like(index.mentors, table)
        rows = np.zeros(1, dtype=np.int64)
        excluded = np.array([(int(table.ids[0]), int(m)) for m in exclude_mentor_ids], np.int64).reshape(
            -1, 2
        )
        ex_local, ex_cols = exclusion_arrays(index, table, rows, excluded)
        text = index.space.newcomer_text(table, rows) if index.space.text is not None else None
        pos, val = index.retrieve_exact(table, rows, text, ex_local, ex_cols)
        k = min(k or self.policy.k, index.pool)
        pool = index.rerank(table, rows, pos, val, pos.shape[1])
        cand = second_stage(index, table, pool, reranker=index.reranker, k=k, exclude_pairs=excluded)
        cols = np.flatnonzero(cand.mentor_rows[0, :k] >= 0)
        picked = np.zeros(len(cols), dtype=np.int64)
        m_rows, scores = cand.mentor_rows[0, cols], cand.scores[0, cols]
        return proposals_from(
            index,
            table,
            cand.newcomer_rows[picked],
            m_rows,
            scores,
            scores,
            (cols + 1).astype(np.int32),
            np.zeros(1, np.float32),
            text,
        )
