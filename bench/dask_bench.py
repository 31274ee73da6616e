"""National runs on Dask: a LocalCluster of this machine's cores against in-process, in the same run.

Measures, on one generated population:
- the in-process run (features, candidates, assignment) and its peak RSS;
- the same run on a LocalCluster (worker processes, one thread each), with each shard's compute time
  from Dask's task stream, the workers' peak RSS and the bytes moved (index broadcast, shard inputs,
  shard results); the proposals must be identical to the in-process ones;
- the assignment above an arc limit (components, then regions with split seats) against the exact
  min-cost flow on the same candidates: objective and matches lost, solve time, and the RSS the exact
  solve adds per arc;
- a capacity plan for a larger run from the measured per-pair shard cost.

Default (checks the script, about two minutes):
    .venv/bin/python -m bench.dask_bench --newcomers 100000 --mentors 20000
Large (the issue's size; measured at 5 GB in the driver plus 1.3 GB per worker, 33 minutes of wall
time at load 10 to 20 on 2 cores):
    nohup .venv/bin/python -m bench.dask_bench --newcomers 1000000 --mentors 100000 --loss-shares 8 \
        > dask_1m.log 2>&1 &
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pickle
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from distributed import Client, LocalCluster, get_task_stream

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from bench.matching_bench import PeakRss, timed
from matching import Policy, assign_candidates, build_index, evaluate, find_candidates
from matching.assign import assign
from matching.decompose import component_of_arcs
from matching.distributed import (
    cluster_map,
    find_candidates_distributed,
    run_shard,
    shard_bounds,
)
from matching.score import equity_part, equity_tiers
from matching.synthetic import generate_population

FIELDS = ("newcomer_id", "mentor_id", "score", "value", "parts", "rank", "explored", "propensity")


def _rss() -> int:
    return psutil.Process(os.getpid()).memory_info().rss


def _cpu() -> float:
    times = psutil.Process(os.getpid()).cpu_times()
    return times.user + times.system


class WorkerPeaks:
    """Sample every Dask worker's RSS twice a second while a phase runs; keep each one's peak."""

    def __init__(self, client: Client) -> None:
        self.client, self.peak = client, {}
        self._stop = threading.Event()

    def __enter__(self) -> WorkerPeaks:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            with contextlib.suppress(Exception):  # a worker restarting: sample again next time
                for worker, rss in self.client.run(_rss).items():
                    self.peak[worker] = max(self.peak.get(worker, 0), rss)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def same_proposals(a: Any, b: Any) -> bool:
    """Bit-identical columns (the test suite asserts the same on small sizes)."""
    return len(a) == len(b) and all(np.array_equal(getattr(a, f), getattr(b, f)) for f in FIELDS)


def values_of(index: Any, newcomers: Any, cand: Any) -> np.ndarray:
    """The assignment's pair values (score + equity bonus), as matching.pipeline.assign_candidates."""
    bonus = index.policy.weights.equity * equity_part(equity_tiers(newcomers))
    return cand.scores + bonus[cand.newcomer_rows][:, None].astype(np.float32)


def assignment_loss(index: Any, pop: Any, cand: Any, shares: list[int], client: Client | None) -> None:
    """Exact min-cost flow against components + regions at arc limits of arcs / share."""
    values = values_of(index, pop.newcomers, cand)
    valid = (cand.mentor_rows >= 0) & np.isfinite(values) & (values > 0)
    r, c = np.nonzero(valid)
    sizes = np.bincount(component_of_arcs(r, cand.mentor_rows[r, c]))
    print(
        f" assignment: {len(r):,} candidate arcs, {len(sizes):,} components, largest {sizes.max():,} arcs",
        flush=True,
    )
    before = _rss()
    with PeakRss() as rss:
        (_, _, v_exact), t_exact = timed(
            "exact (one min-cost flow)", lambda: assign(cand, values, pop.mentors, pop.newcomers)
        )
    per_arc = (rss.peak - before) / len(r)
    exact_obj, exact_n = float(v_exact.astype(np.float64).sum()), len(v_exact)
    print(f"  exact: {exact_n:,} matches, objective {exact_obj:.2f}; RSS added {per_arc:.0f} B per arc")
    runs: list[tuple[str, Callable[[], Any]]] = []
    for share in shares:
        limit = max(1000, len(r) // share)
        runs.append(
            (
                f"arc limit {limit:,} (arcs/{share}), serial",
                lambda lim=limit: assign(cand, values, pop.mentors, pop.newcomers, arc_limit=lim),
            )
        )
        if client is not None:
            runs.append(
                (
                    f"arc limit {limit:,} (arcs/{share}), on the cluster",
                    lambda lim=limit: assign(
                        cand, values, pop.mentors, pop.newcomers, arc_limit=lim, mapper=cluster_map(client)
                    ),
                )
            )
    for label, fn in runs:
        (_, _, v), t = timed(label, fn)
        obj = float(v.astype(np.float64).sum())
        print(
            f"  {label}: {len(v):,} matches ({(len(v) - exact_n) / exact_n:+.3%}), objective {obj:.2f} "
            f"({(obj - exact_obj) / exact_obj:+.3%}), {t:.2f} s vs exact {t_exact:.2f} s",
            flush=True,
        )


def main() -> None:
    """In-process and LocalCluster runs of one population, with the figures the capacity plan needs."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--newcomers", type=int, default=100_000)
    ap.add_argument("--mentors", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--shard-rows", type=int, default=None, help="default: matching.distributed's")
    ap.add_argument("--loss-shares", type=int, nargs="*", default=[4, 16], help="arc limit = arcs / share")
    ap.add_argument("--plan-newcomers", type=float, default=10e6)
    ap.add_argument("--plan-mentors", type=float, default=1e6)
    ap.add_argument("--plan-cores", type=int, default=32, help="cores of one worker machine in the plan")
    args = ap.parse_args()
    load = os.getloadavg()
    print(
        f"dask bench: {args.newcomers:,} newcomers x {args.mentors:,} mentors, {args.workers} workers x 1 "
        f"thread, cores {os.cpu_count()}, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}",
        flush=True,
    )
    pop, _ = timed(
        "generate population", lambda: generate_population(args.mentors, args.newcomers, args.seed)
    )
    policy = Policy()

    print(" in-process", flush=True)
    with PeakRss() as rss_local:
        index, t_fit = timed("features: fit + embed mentors", lambda: build_index(pop.mentors, policy))
        cand, t_cand = timed("candidates", lambda: find_candidates(index, pop.newcomers))
        local, t_assign = timed("assignment", lambda: assign_candidates(index, pop.newcomers, cand))
    t_local = t_fit + t_cand + t_assign
    print(f"  in-process total {t_local:.2f} s, peak RSS {rss_local.peak / 2**30:.2f} GiB", flush=True)

    eligible = int((~pop.newcomers.has_active_mentor).sum())
    bounds = shard_bounds(eligible, policy.block_rows, args.shard_rows)
    index_bytes = len(pickle.dumps(index, protocol=5))
    rows = np.flatnonzero(~pop.newcomers.has_active_mentor)
    rows = rows[np.argsort(pop.newcomers.county[rows], kind="stable")]
    first = pop.newcomers.take(rows[bounds[0][0] : bounds[0][1]])
    shard_in = len(pickle.dumps(first, protocol=5))
    shard_out = len(pickle.dumps(run_shard(index, first, np.zeros((0, 2), np.int64), 0, True, 0), protocol=5))
    print(
        f"  data: index {index_bytes / 2**20:.1f} MiB (broadcast to each worker), shard of {len(first):,} "
        f"newcomers {shard_in / 2**20:.1f} MiB in, {shard_out / 2**20:.1f} MiB out "
        f"({shard_in / len(first):.0f} + {shard_out / len(first):.0f} B per newcomer), {len(bounds)} shards",
        flush=True,
    )

    print(" LocalCluster", flush=True)
    t0 = time.perf_counter()
    with (
        LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            memory_limit=0,
        ) as cluster,
        Client(cluster) as client,
    ):
        print(f"  cluster up in {time.perf_counter() - t0:.1f} s", flush=True)
        with WorkerPeaks(client) as peaks, PeakRss() as rss_driver, get_task_stream(client) as stream:
            index2, t_fit2 = timed(
                "features: fit + embed mentors (driver)", lambda: build_index(pop.mentors, policy)
            )
            cpu0 = client.run(_cpu)
            cand2, t_cand2 = timed(
                "candidates (shards on the workers)",
                lambda: find_candidates_distributed(
                    client, index2, pop.newcomers, shard_rows=args.shard_rows
                ),
            )
            cpu1 = client.run(_cpu)
            remote, t_assign2 = timed(
                "assignment (driver)",
                lambda: assign_candidates(index2, pop.newcomers, cand2, mapper=cluster_map(client)),
            )
        t_cluster = t_fit2 + t_cand2 + t_assign2
        shard_times = [
            sum(s["stop"] - s["start"] for s in task["startstops"] if s["action"] == "compute")
            for task in stream.data
            if str(task["key"]).startswith("jieduan-shard-")
        ]
        transfer = [
            sum(s["stop"] - s["start"] for s in task["startstops"] if s["action"] == "transfer")
            for task in stream.data
        ]
        print(
            f"  cluster total {t_cluster:.2f} s; in-process / cluster = {t_local / t_cluster:.2f}x; "
            f"driver peak RSS {rss_driver.peak / 2**30:.2f} GiB; workers' peak RSS "
            f"{[round(p / 2**30, 2) for p in peaks.peak.values()]} GiB",
            flush=True,
        )
        print(f"  identical proposals: {same_proposals(local, remote)} ({len(local):,} vs {len(remote):,})")
        per_shard = float(np.median(shard_times))
        pairs_per_shard = (bounds[0][1] - bounds[0][0]) * index.size
        # CPU, not wall: on this shared machine a shard's wall time counts other jobs' turns too.
        worker_cpu = sum(cpu1[w] - cpu0.get(w, cpu1[w]) for w in cpu1 if w in cpu0)
        ns_per_pair = worker_cpu / (eligible * index.size) * 1e9
        print(
            f"  workers' CPU during candidates {worker_cpu:.1f} s for {eligible:,} x {index.size:,} pairs: "
            f"{ns_per_pair:.2f} ns per pair (wall per shard: {per_shard / pairs_per_shard * 1e9:.2f} ns)",
            flush=True,
        )
        print(
            f"  per shard ({len(shard_times)} shards of {bounds[0][1] - bounds[0][0]:,} newcomers x "
            f"{index.size:,} mentors): median {per_shard:.2f} s, min {min(shard_times):.2f}, max "
            f"{max(shard_times):.2f}; worker-to-worker "
            f"transfers {sum(transfer):.2f} s",
            flush=True,
        )
        print("  quality:", {k: round(v, 4) for k, v in evaluate(remote, pop.mentors, pop.newcomers).items()})
        assignment_loss(index, pop, cand, args.loss_shares, client)

    # Capacity plan: the shard cost scales with newcomers x mentors; the index with mentors.
    pairs = args.plan_newcomers * args.plan_mentors
    cpu_hours = pairs * ns_per_pair * 1e-9 / 3600
    scale = args.plan_mentors / args.mentors
    print(
        f" plan for {args.plan_newcomers:,.0f} x {args.plan_mentors:,.0f}: {cpu_hours:,.0f} core-hours of "
        f"shards at {ns_per_pair:.2f} ns per pair; {cpu_hours / args.plan_cores:.1f} machines of "
        f"{args.plan_cores} cores for one hour of shards; index about {index_bytes * scale / 2**30:.1f} GiB "
        f"per worker; newcomers {shard_in / len(first) * args.plan_newcomers / 2**30:.1f} GiB in and "
        f"{shard_out / len(first) * args.plan_newcomers / 2**30:.1f} GiB back",
        flush=True,
    )


if __name__ == "__main__":
    main()
