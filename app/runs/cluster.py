"""Matching runs on a Dask cluster (`JIEDUAN_DASK_SCHEDULER`): connect, run the sharded model, disconnect.

The job worker stays the driver: it loads the tables, fits the mentor index, submits the newcomer
shards and waits. Its heartbeat thread keeps the job's lease while the cluster works, and each finished
shard moves the run's progress (the caller's `on_progress`). Dask is imported only by this module, which
the run service loads only when a scheduler is configured.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from distributed import Client
from distributed.comm import connect

from app.config import Settings
from app.jobs.queue import ShownError
from matching import MentorTable, NewcomerTable, Policy, ProposalSet
from matching.distributed import Progress, describe, propose_distributed
from matching.stages import Reranker


class ClusterUnavailable(ShownError, RuntimeError):
    """The configured scheduler did not answer as a Dask scheduler, or has no workers to run shards on."""


async def _identify(address: str, seconds: float) -> dict[str, Any]:
    comm = await connect(address, timeout=seconds)
    try:
        await comm.write({"op": "identity", "reply": True})
        reply = await comm.read()
    finally:
        comm.abort()
    return reply if isinstance(reply, dict) else {}


def _probe(address: str, seconds: float) -> None:
    """Ask the address who it is, within `seconds` in all.

    Client(timeout=...) bounds the TCP connect but not Dask's handshake: a listener that accepts and
    never answers held the driver for ever (its heartbeat keeping the lease), and one that answers
    something else made Dask read a length of exabytes. Both are the same mistake to the operator.

    The handshake runs on a thread of its own: the driver's thread may already be inside an event loop
    (an embedding application's, or a library's that runs one on the main thread), where asyncio.run
    refuses to start and the refusal read as an unreachable cluster.
    """
    with ThreadPoolExecutor(1, thread_name_prefix="dask-probe") as pool:
        asked = pool.submit(lambda: asyncio.run(asyncio.wait_for(_identify(address, seconds), seconds)))
        try:
            identity = asked.result()
        except TimeoutError as exc:
            reason = f"the Dask scheduler did not answer within {seconds:g} s"
            raise ClusterUnavailable(reason) from exc
        except Exception as exc:  # refused, reset, garbage: the cause stays chained for the job's log
            raise ClusterUnavailable("the Dask scheduler could not be reached") from exc
    if identity.get("type") != "Scheduler":
        raise ClusterUnavailable("the configured Dask scheduler address is not a Dask scheduler")


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
    address, seconds = settings.dask_scheduler or "", settings.dask_connect_seconds
    _probe(address, seconds)
    with Client(address, timeout=seconds, set_as_default=False) as client:
        try:
            # Workers may still be joining a cluster that just started; none at all is an outage.
            client.wait_for_workers(1, timeout=seconds)
        except TimeoutError as exc:
            raise ClusterUnavailable(f"the Dask scheduler has no workers (waited {seconds:g} s)") from exc
        cluster = describe(client)
        try:
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
        except OSError as exc:
            # A lost scheduler connection, or a re-scatter that found no worker left (Dask's TimeoutError
            # is an OSError). Dask's own text names the cluster's addresses, which the run's readers (county
            # coordinators) need not see; the job's log keeps it as the cause.
            raise ClusterUnavailable("the Dask cluster went away during the run") from exc
    return proposals, cluster
