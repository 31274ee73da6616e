"""Matching runs on a Dask cluster (`JIEDUAN_DASK_SCHEDULER`): connect, run the sharded model, disconnect.

The job worker stays the driver: it loads the tables, fits the mentor index, submits the newcomer
shards and waits. Its heartbeat thread keeps the job's lease while the cluster works, and each finished
shard moves the run's progress (the caller's `on_progress`). Dask is imported only by this module, which
the run service loads only when a scheduler is configured.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from distributed import Client

from app.config import Settings
from matching import MentorTable, NewcomerTable, Policy, ProposalSet
from matching.distributed import Progress, describe, propose_distributed
from matching.stages import Reranker


def propose_on_cluster(
    settings: Settings,
    mentors: MentorTable,
    newcomers: NewcomerTable,
    policy: Policy,
    *,
    ranker: Reranker | None,
    exclude_pairs: Iterable[tuple[int, int]],
    seed: int,
    on_progress: Progress,
) -> tuple[ProposalSet, dict[str, Any]]:
    """The run's proposals computed on the configured cluster, and what the cluster was."""
    with Client(
        settings.dask_scheduler, timeout=settings.dask_connect_seconds, set_as_default=False
    ) as client:
        cluster = describe(client)
        proposals = propose_distributed(
            client,
            mentors,
            newcomers,
            policy,
            ranker=ranker,
            exclude_pairs=exclude_pairs,
            seed=seed,
            arc_limit=settings.assign_arc_limit,
            shard_rows=settings.dask_shard_rows,
            block_rows=settings.dask_block_rows,
            on_progress=on_progress,
        )
    return proposals, cluster
