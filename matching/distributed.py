"""National runs on a Dask cluster: newcomer shards on the workers, the mentor index built once.

The driver (the job worker) fits the features and builds the mentor index once, then scatters it to
every Dask worker (`client.scatter(..., broadcast=True)`); no shard rebuilds it. The eligible newcomers,
sorted by county as in-process, are cut into shards of whole GEMM blocks (`policy.block_rows`), so every
block a shard computes is the block the in-process run computes: the candidates are bit-identical, and
so are the proposals while the assignment stays one exact problem. Each shard task gets its newcomers
in the task itself, so when a Dask worker dies the scheduler reruns the shard elsewhere from its own
copy; the driver takes exactly one result per shard, so nothing is counted twice.

The second stage runs in the shard when it is row by row (any pairing but "mixed", whose draw looks at
the whole run); for "mixed" the driver runs it over the gathered pools. Retrieval on a cluster is the
exact search (`index="auto"` or "faiss" too): the cluster has the cores the exact search needs.
The assignment then runs on the driver (matching.assign); above the arc limit, its independent problems
are solved on the cluster's workers.

Pure: NumPy, SciPy and Dask; no web or database import. The caller owns the Client.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import CancelledError
from dataclasses import dataclass, replace
from typing import Any

import dask
import numpy as np
from distributed import Client, Future, as_completed

from matching.candidates import Candidates, MentorIndex
from matching.decompose import Mapper, Problem
from matching.pipeline import assign_candidates, build_index, find_candidates, retrieve_pool
from matching.proposals import ProposalSet, empty_like
from matching.stages import Reranker, second_stage
from matching.types import MentorTable, NewcomerTable, Policy

SHARD_BLOCKS = 16  # GEMM blocks per shard by default: 32,768 newcomers at the default block_rows
# Shards handed to the scheduler at once, per worker thread: enough to keep every thread busy while
# results come back, few enough that the scheduler never holds the whole newcomer table.
IN_FLIGHT_PER_THREAD = 2
# A shard task carries its newcomers (tens of MB): that is the design, not an accident to warn about.
GRAPH_WARNING = "2GB"
MAX_RESUBMITS = 3  # a shard cancelled by a lost index is resubmitted at most this often

Progress = Callable[[int, int], None]  # (shards done, shards in all)
ShardHook = Callable[[int], None]  # called on the Dask worker before shard i runs (tests use it)


@dataclass(frozen=True, eq=False)
class ShardCandidates:
    """What a shard sends back: its rows' candidates, mentor rows narrowed to int32 for the transfer."""

    mentor_rows: np.ndarray
    scores: np.ndarray
    pool_rows: np.ndarray | None
    pool_scores: np.ndarray | None
    newcomer_text: np.ndarray | None


def _narrow(rows: np.ndarray | None) -> np.ndarray | None:
    return None if rows is None else rows.astype(np.int32)


def _widen(rows: np.ndarray | None) -> np.ndarray | None:
    return None if rows is None else rows.astype(np.int64)


def shard_bounds(n_rows: int, block_rows: int, shard_rows: int | None = None) -> list[tuple[int, int]]:
    """(start, end) of each shard: whole GEMM blocks, so shards compute exactly the in-process blocks."""
    blocks = max(1, -(-(shard_rows or SHARD_BLOCKS * block_rows) // block_rows))
    step = blocks * block_rows
    return [(s, min(s + step, n_rows)) for s in range(0, n_rows, step)]


def run_shard(
    index: MentorIndex,
    newcomers: NewcomerTable,
    exclude_pairs: np.ndarray,
    seed: int,
    row_local_second_stage: bool,
    shard: int,
    hook: ShardHook | None = None,
) -> ShardCandidates:
    """The Dask task: one shard's pool (and second stage when it is row by row), exact retrieval."""
    if hook is not None:
        hook(shard)
    cand = retrieve_pool(index, newcomers, exclude_pairs=exclude_pairs, seed=seed, method="exact")
    if row_local_second_stage:
        cand = second_stage(
            index,
            newcomers,
            cand,
            reranker=index.reranker,
            k=index.policy.k,
            seed=seed,
            exclude_pairs=exclude_pairs,
        )
    return ShardCandidates(
        _narrow(cand.mentor_rows),
        cand.scores,
        _narrow(cand.pool_rows),
        cand.pool_scores,
        cand.newcomer_text,
    )


def _exclusions_by_shard(
    newcomers: NewcomerTable, rows: np.ndarray, bounds: Sequence[tuple[int, int]], pairs: np.ndarray
) -> list[np.ndarray]:
    """The excluded (newcomer id, mentor id) pairs of each shard's newcomers."""
    empty = np.zeros((0, 2), np.int64)
    if len(pairs) == 0:
        return [empty] * len(bounds)
    pairs = pairs[np.isin(pairs[:, 0], newcomers.ids[rows])]
    position = np.full(len(newcomers), -1, np.int64)
    position[rows] = np.arange(len(rows))
    pos = position[newcomers.rows_of(pairs[:, 0])]
    starts = np.array([s for s, _ in bounds])
    shard_of = np.searchsorted(starts, pos, side="right") - 1
    return [pairs[shard_of == i] for i in range(len(bounds))]


class _ShardRun:
    """One run's shards on the cluster: the scattered index, bounded submission, one result per shard.

    Dask reruns a shard whose worker died (the shard's newcomers travel in its task). What Dask cannot
    rebuild is scattered data: its memory manager keeps as few replicas of the index as waiting tasks
    need, so the death of the last holder loses it and cancels the shards that wait for it. Then the
    driver, which built the index, scatters it again and resubmits those shards.
    """

    def __init__(
        self,
        client: Client,
        index: MentorIndex,
        shard_args: Callable[[int], tuple[Any, ...]],
        n_shards: int,
    ) -> None:
        self.client, self.index, self.shard_args, self.n_shards = client, index, shard_args, n_shards
        self.token = uuid.uuid4().hex  # keys of this run only: never a result left by another run
        self.index_future: Future | None = None
        self.attempts = [0] * n_shards

    def scatter(self) -> None:
        if self.index_future is not None:
            self.index_future.release()
        self.index_future = self.client.scatter(self.index, broadcast=True, hash=False)

    def submit(self, shard: int) -> Future:
        self.attempts[shard] += 1
        return self.client.submit(
            run_shard,
            self.index_future,
            *self.shard_args(shard),
            key=f"jieduan-shard-{self.token}-{shard}-{self.attempts[shard]}",
            pure=False,
        )

    def run(self, on_progress: Progress | None) -> list[ShardCandidates]:
        """Every shard's result, in shard order; on_progress after each (it may raise to stop the run)."""
        window = max(1, IN_FLIGHT_PER_THREAD * sum(self.client.nthreads().values()))
        results: list[ShardCandidates | None] = [None] * self.n_shards
        in_flight: dict[str, tuple[int, Future]] = {}
        pending = as_completed(loop=self.client.loop)
        queued = list(range(self.n_shards))[::-1]

        def fill() -> None:
            while queued and len(in_flight) < window:
                shard = queued.pop()
                future = self.submit(shard)
                in_flight[future.key] = (shard, future)
                pending.add(future)

        self.scatter()
        done = 0
        try:
            fill()
            for future in pending:
                shard, _ = in_flight.pop(future.key)
                try:
                    results[shard] = future.result()
                except CancelledError:
                    if self.attempts[shard] > MAX_RESUBMITS:
                        raise
                    if self.index_future is None or self.index_future.status != "finished":
                        self.scatter()  # the index was lost with its last worker
                    queued.append(shard)
                    fill()
                    continue
                future.release()
                done += 1
                if on_progress is not None:
                    on_progress(done, self.n_shards)
                fill()
        finally:
            # A failed shard or a lost lease (raised by on_progress) stops the rest of the run's work.
            for _, future in in_flight.values():
                future.cancel()
            if self.index_future is not None:
                self.index_future.release()
        missing = [i for i, r in enumerate(results) if r is None]
        if missing:
            raise RuntimeError(f"shards {missing} returned no result")
        return [r for r in results if r is not None]


def find_candidates_distributed(
    client: Client,
    index: MentorIndex,
    newcomers: NewcomerTable,
    *,
    exclude_pairs: Iterable[tuple[int, int]] = (),
    seed: int = 0,
    shard_rows: int | None = None,
    on_progress: Progress | None = None,
    shard_hook: ShardHook | None = None,
) -> Candidates:
    """matching.pipeline.find_candidates, with newcomer shards on the cluster's workers; same result."""
    eligible = np.flatnonzero(~newcomers.has_active_mentor)
    rows = eligible[np.argsort(newcomers.county[eligible], kind="stable")]
    pairs = np.asarray(list(exclude_pairs), np.int64).reshape(-1, 2)
    if len(rows) == 0:
        return find_candidates(index, newcomers, exclude_pairs=pairs, seed=seed, method="exact")
    bounds = shard_bounds(len(rows), index.policy.block_rows, shard_rows)
    excluded = _exclusions_by_shard(newcomers, rows, bounds, pairs)
    row_local = index.policy.pairing != "mixed"

    def shard_args(i: int) -> tuple[Any, ...]:
        start, end = bounds[i]
        return newcomers.take(rows[start:end]), excluded[i], seed, row_local, i, shard_hook

    with dask.config.set({"distributed.admin.large-graph-warning-threshold": GRAPH_WARNING}):
        parts = _ShardRun(client, index, shard_args, len(bounds)).run(on_progress)
    return _assemble(index, newcomers, rows, parts, row_local, seed, pairs)


def _assemble(
    index: MentorIndex,
    newcomers: NewcomerTable,
    rows: np.ndarray,
    parts: list[ShardCandidates],
    row_local: bool,
    seed: int,
    exclude_pairs: np.ndarray,
) -> Candidates:
    """The shards' candidates as one Candidates over the whole table, in the in-process row order."""
    text = None
    if parts[0].newcomer_text is not None:
        text = np.zeros((len(newcomers), parts[0].newcomer_text.shape[1]), np.float32)
        text[rows] = np.vstack([p.newcomer_text for p in parts])
    with_pool = parts[0].pool_rows is not None
    cand = Candidates(
        rows,
        np.vstack([_widen(p.mentor_rows) for p in parts]),
        np.vstack([p.scores for p in parts]),
        newcomer_text=text,
        pool_rows=np.vstack([_widen(p.pool_rows) for p in parts]) if with_pool else None,
        pool_scores=np.vstack([p.pool_scores for p in parts]) if with_pool else None,
    )
    if row_local:
        return cand
    policy = index.policy
    return second_stage(
        index, newcomers, cand, reranker=index.reranker, k=policy.k, seed=seed, exclude_pairs=exclude_pairs
    )


def cluster_map(client: Client) -> Mapper:
    """A mapper (matching.decompose) that solves the independent assignment problems on the workers."""

    def solve_all(fn: Callable[..., np.ndarray], problems: Sequence[Problem]) -> list[np.ndarray]:
        if not problems:
            return []
        with dask.config.set({"distributed.admin.large-graph-warning-threshold": GRAPH_WARNING}):
            futures = [client.submit(fn, *p, pure=False) for p in problems]
            try:
                return list(client.gather(futures))
            finally:
                for future in futures:
                    future.release()

    return solve_all


def propose_distributed(
    client: Client,
    mentors: MentorTable,
    newcomers: NewcomerTable,
    policy: Policy | None = None,
    *,
    ranker: Reranker | None = None,
    exclude_pairs: Iterable[tuple[int, int]] = (),
    seed: int = 0,
    arc_limit: int | None = None,
    shard_rows: int | None = None,
    block_rows: int | None = None,
    on_progress: Progress | None = None,
    shard_hook: ShardHook | None = None,
) -> ProposalSet:
    """matching.propose on a Dask cluster: the same proposals while the assignment is one problem.

    Shards are whole GEMM blocks of block_rows (default policy.block_rows; a worker's score buffer is
    block_rows x mentors floats), at most shard_rows. Equal blocks give the in-process run's proposals.
    """
    policy = policy or Policy()
    block = min(block_rows or policy.block_rows, shard_rows or policy.block_rows)
    if block != policy.block_rows:
        policy = replace(policy, block_rows=block)
    if len(mentors) == 0 or len(newcomers) == 0:
        return empty_like(mentors, newcomers)
    index = build_index(mentors, policy, ranker=ranker, seed=seed)
    cand = find_candidates_distributed(
        client,
        index,
        newcomers,
        exclude_pairs=exclude_pairs,
        seed=seed,
        shard_rows=shard_rows,
        on_progress=on_progress,
        shard_hook=shard_hook,
    )
    return assign_candidates(
        index, newcomers, cand, seed=seed, arc_limit=arc_limit, mapper=cluster_map(client)
    )


def describe(client: Client) -> dict[str, Any]:
    """Workers, threads and memory of the cluster a run used (for the run's record and the bench)."""
    info = client.scheduler_info()
    workers = info.get("workers", {})
    return {
        "workers": len(workers),
        "threads": sum(int(w.get("nthreads", 0)) for w in workers.values()),
        "memory_limit_bytes": sum(int(w.get("memory_limit", 0) or 0) for w in workers.values()),
    }
