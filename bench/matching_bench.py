"""Benchmark of the matching model: candidates + assignment vs. the GEMM floor and a naive baseline.

Default (100k newcomers x 20k mentors, exact pruned search; project, floor and baseline run 3 times,
interleaved, and medians are reported), with the previous retrieval pool, the dense search and a
full-score brute force measured in the same run:
    .venv/bin/python bench/matching_bench.py
Large (1M x 100k; index=auto picks the exact search at this size; baseline skipped; GEMM floor
extrapolated from 100k rows; the old pool and the dense search skipped):
    nohup .venv/bin/python bench/matching_bench.py --newcomers 1000000 --mentors 100000 --index auto \
        --skip-baseline --skip-peers --floor-rows 100000 --repeat 1 > matching_1m.log 2>&1 &
Figures are wall-clock on a shared 2-core machine: expect noise from concurrent jobs.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from sklearn.neighbors import NearestNeighbors

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from matching import (
    Policy,
    Recommender,
    assign_candidates,
    build_index,
    evaluate,
    find_candidates,
)
from matching.assign import diversity_keys
from matching.candidates import Candidates, exclusion_arrays, topk_rows
from matching.exact import band_of_cosine, bonus_range
from matching.pipeline import choose_method, newcomer_text_all
from matching.regions import unit_vectors
from matching.stages import second_stage
from matching.synthetic import generate_population

PROPOSAL_FIELDS = ("newcomer_id", "mentor_id", "score", "value", "parts", "rank", "explored", "propensity")


class PeakRss:
    """Sample this process's RSS every 20 ms while a phase runs."""

    def __init__(self) -> None:
        self.proc = psutil.Process(os.getpid())
        self.peak = 0
        self._stop = threading.Event()

    def __enter__(self) -> PeakRss:
        self.peak = self.proc.memory_info().rss
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.02)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def timed(label: str, fn: Callable[[], Any]) -> tuple[Any, float]:
    """Run fn, print its wall time (and this process's CPU time: less sensitive to other jobs)."""
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    dt, dc = time.perf_counter() - t, time.process_time() - c
    print(f"  {label:<38s} {dt:9.2f} s   (CPU {dc:8.2f} s)", flush=True)
    return out, dt


def gemm_floor(n: int, m: int, d: int, block: int, rows: int | None) -> float:
    """Seconds for blocked Q @ K.T of the same sizes (no masks, no top-k); extrapolated if rows < n."""
    rng = np.random.default_rng(0)
    k = rng.standard_normal((m, d), dtype=np.float32)
    q = rng.standard_normal((block, d), dtype=np.float32)
    todo = min(rows or n, n)
    out = np.empty((block, m), dtype=np.float32)  # preallocated, as the project does: no page faults
    t = time.perf_counter()
    for start in range(0, todo, block):
        b = min(block, todo - start)
        np.matmul(q[:b], k.T, out=out[:b])
    return (time.perf_counter() - t) * n / todo


def baseline(index: Any, newcomers: Any, k: int, fetch: int) -> tuple[int, float]:
    """sklearn brute cosine kNN + Python filtering + greedy assignment; returns (matches, seconds)."""
    t = time.perf_counter()
    mentors = index.mentors
    rows = np.flatnonzero(~newcomers.has_active_mentor)
    q = index.space.newcomer_queries(newcomers, rows, index.weights)
    keys = index.keys[: index.size]
    nn = NearestNeighbors(n_neighbors=min(fetch, index.size), algorithm="brute", metric="cosine").fit(keys)
    dist, idx = nn.kneighbors(q)
    pairs = []
    for i, r in enumerate(rows):  # the per-pair Python filtering the project avoids
        kept = 0
        for dd, j in zip(dist[i], idx[i], strict=True):
            mr = index.order[j]
            if mentors.county[mr] == newcomers.county[r] or mentors.capacity_left[mr] <= 0:
                continue
            pairs.append((1.0 - dd, r, mr))
            kept += 1
            if kept == k:
                break
    pairs.sort(key=lambda p: -p[0])
    load = np.zeros(len(mentors), dtype=np.int64)
    taken, used = set(), set()
    for _, r, mr in pairs:
        key = int(diversity_keys(np.array([mr]), newcomers, np.array([r]))[0])
        if r in taken or load[mr] >= mentors.capacity_left[mr] or key in used:
            continue
        taken.add(r)
        used.add(key)
        load[mr] += 1
    return len(taken), time.perf_counter() - t


def recall_at_k(index: Any, newcomers: Any, method: str, sample: int, seed: int) -> tuple[float, float]:
    """(id recall, tie-aware recall) of top-k(method) against exact top-k on a sample of newcomers.

    Id recall: |approx ∩ exact| / |exact|. Tie-aware: share of approx picks scoring at least the exact
    k-th score (many mentors tie exactly on discrete features, so ids of the k-th place are arbitrary).
    """
    if method == "exact":
        return 1.0, 1.0  # retrieve_exact is exact by construction (tested against brute force)
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(newcomers), size=min(sample, len(newcomers)), replace=False))
    sub = newcomers.take(rows)
    exact = find_candidates(index, sub, method="exact")
    approx = find_candidates(index, sub, method=method)
    ids, ties = [], []
    for a, e, sa, se in zip(approx.mentor_rows, exact.mentor_rows, approx.scores, exact.scores, strict=True):
        if not (e >= 0).any():
            continue
        ids.append(len(set(a[a >= 0]) & set(e[e >= 0])) / (e >= 0).sum())
        kth = se[e >= 0].min()
        ties.append(min((sa[a >= 0] >= kth - 1e-5).sum(), (e >= 0).sum()) / (e >= 0).sum())
    return float(np.mean(ids)), float(np.mean(ties))


def retrieval_pool_candidates(index: Any, newcomers: Any, seed: int = 0) -> tuple[Candidates, float]:
    """The previous first stage, for comparison: the top `pool` by retrieval value, then the band added.

    Returns the candidates and the share of rows whose pool was provably the full-score top k (the
    pool's last retrieval value plus the largest distance bonus below the row's k-th full score).
    """
    eligible = np.flatnonzero(~newcomers.has_active_mentor)
    rows = eligible[np.argsort(newcomers.county[eligible], kind="stable")]
    text_all = newcomer_text_all(index, newcomers, rows)
    ex_local, ex_cols = exclusion_arrays(index, newcomers, rows, np.zeros((0, 2), np.int64))
    pool = min(index.pool, index.size)
    pos = np.full((len(rows), pool), -1, np.int64)
    val = np.full((len(rows), pool), -np.inf, np.float32)
    step = index.policy.block_rows
    for start in range(0, len(rows), step):
        blk = rows[start : start + step]
        text = None if text_all is None else text_all[blk]
        q = index.space.newcomer_queries(newcomers, blk, index.weights, text)
        s = q @ index.keys.T
        index.mask_block(s, newcomers, blk, ex_local[:0], ex_cols[:0])
        p, v = topk_rows(s, pool, index.groups)
        p[~np.isfinite(v)] = -1
        pos[start : start + len(blk)], val[start : start + len(blk)] = p, v
    cand = index.rerank(newcomers, rows, pos, val, pool)
    k = index.policy.k
    last = np.where(np.isfinite(val), val, np.inf).min(axis=1)  # the pool's last retrieval value
    most = bonus_range(index.weights["distance"])[1]
    proven = (last + most < cand.scores[:, k - 1]) | (pos < 0).any(axis=1)
    cand = Candidates(rows, cand.mentor_rows, cand.scores, newcomer_text=text_all)
    pool_c = second_stage(index, newcomers, cand, reranker=None, k=k, seed=seed)
    return pool_c, float(proven.mean())


def full_score_recall(index: Any, newcomers: Any, cand: Any, sample: int, seed: int) -> tuple[float, float]:
    """(id recall, tie-aware recall) of cand's top k against a full-score brute force on a sample.

    The brute force scores every pair in float64 (query x key, the masks' penalty, the band from the
    arc cosine) and sorts by score, then mentor id. Tie-aware: share of picks scoring at least the
    brute force's k-th score less 1e-5 (float32 and float64 sums differ in the last bits).
    """
    k = index.policy.k
    rng = np.random.default_rng(seed)
    at = np.full(len(newcomers), -1, np.int64)
    at[cand.newcomer_rows] = np.arange(len(cand.newcomer_rows))
    rows = np.sort(rng.choice(cand.newcomer_rows, size=min(sample, len(cand.newcomer_rows)), replace=False))
    rows = rows[np.argsort(newcomers.county[rows], kind="stable")]
    text = None if index.space.text is None else index.space.newcomer_text(newcomers, rows)
    q = index.space.newcomer_queries(newcomers, rows, index.weights, text).astype(np.float64)
    m = index.size
    ids, ties = [], []
    for start in range(0, len(rows), 500):
        blk = rows[start : start + 500]
        s = q[start : start + 500] @ index.keys[:m].astype(np.float64).T
        masks = np.zeros((len(blk), index.keys.shape[0]), np.float32)
        index.mask_block(masks, newcomers, blk, np.zeros(0, np.int64), np.zeros(0, np.int64))
        cos = unit_vectors(newcomers.lat[blk], newcomers.lon[blk], np.float64) @ index.unit64.T
        band = band_of_cosine(cos.reshape(-1)).reshape(cos.shape).astype(np.float64)
        full = s + masks[:, :m] + index.weights["distance"] * band
        mentor_ids = index.mentors.ids[index.order]
        for i, r in enumerate(blk):
            top = np.lexsort((mentor_ids, -full[i]))[:k]
            top = top[np.isfinite(full[i, top])]
            got = cand.mentor_rows[at[r]]
            got = got[got >= 0]
            if len(top) == 0:
                continue
            ids.append(len(set(got.tolist()) & set(index.order[top].tolist())) / len(top))
            kth = full[i, top[-1]]
            ties.append(min((full[i, index.position[got]] >= kth - 1e-5).sum(), len(top)) / len(top))
    return float(np.mean(ids)), float(np.mean(ties))


def recommend_latency(pop: Any, n_mentors: int, queries: int) -> tuple[float, float]:
    """p50 and p99 seconds of Recommender.recommend with an index over n_mentors mentors."""
    mentors = pop.mentors.take(np.arange(min(n_mentors, len(pop.mentors))))
    rec = Recommender(mentors, Policy(k=10))
    records = pop.newcomers.take(np.arange(min(queries, len(pop.newcomers))))
    for i in range(min(20, len(records))):  # warm-up: first-call imports and allocations
        rec.recommend(records.take(np.array([i])), 10)
    times = []
    for i in range(len(records)):
        one = records.take(np.array([i]))
        t = time.perf_counter()
        rec.recommend(one, 10)
        times.append(time.perf_counter() - t)
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


def print_tile_counts(index: Any) -> None:
    """What the last pruned search multiplied and skipped, against every (newcomer, mentor) pair."""
    c = index.tiles.counts
    if c.rows == 0:
        return
    pairs = c.rows * index.size
    scored = c.warm_pairs + c.later_pairs
    print(
        f"    pruned search: {scored / 1e6:.1f}M of {pairs / 1e6:.0f}M pairs multiplied "
        f"({scored / pairs:.1%}; "
        f"{c.warm_pairs / max(scored, 1):.0%} of them in the rows' warm tiles), "
        f"{c.offered / 1e6:.2f}M passed the floor ({c.offered / max(scored, 1):.1%} of those multiplied); "
        f"(row, tile) searched: {c.warm_tiles} warm + {c.later_tiles} later of {c.row_tiles} "
        f"({1 - (c.warm_tiles + c.later_tiles) / c.row_tiles:.1%} skipped)",
        flush=True,
    )


def run_project(pop: Any, policy: Policy, seed: int) -> tuple[Any, Any, Any, dict[str, float], float]:
    """One timed matching run: (index, candidates, proposals, phase seconds, peak RSS bytes)."""
    with PeakRss() as rss:
        index, t_fit = timed(
            "features: fit + embed mentors", lambda: build_index(pop.mentors, policy, seed=seed)
        )
        cand, t_cand = timed(
            "candidates (retrieve + re-rank)", lambda: find_candidates(index, pop.newcomers, seed=seed)
        )
        print_tile_counts(index)
        ps, t_assign = timed(
            "assignment (min-cost flow)", lambda: assign_candidates(index, pop.newcomers, cand)
        )
    phases = {"fit": t_fit, "candidates": t_cand, "assignment": t_assign, "total": t_fit + t_cand + t_assign}
    print(f"  project total {phases['total']:.2f} s, peak RSS {rss.peak / 2**30:.2f} GiB", flush=True)
    return index, cand, ps, phases, rss.peak


def main() -> None:
    """Run all measurements on one generated population and print figures and ratios (medians of repeats)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--newcomers", type=int, default=100_000)
    ap.add_argument("--mentors", type=int, default=20_000)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--index", choices=["exact", "faiss", "auto"], default="exact")
    ap.add_argument("--nprobe", type=int, default=48)
    ap.add_argument("--repeat", type=int, default=3, help="runs of project, floor and baseline (medians)")
    ap.add_argument("--skip-baseline", action="store_true")
    ap.add_argument(
        "--skip-peers", action="store_true", help="skip the previous retrieval pool and the dense search"
    )
    ap.add_argument("--baseline-fetch", type=int, default=50, help="neighbours the baseline fetches")
    ap.add_argument("--floor-rows", type=int, default=None, help="measure the GEMM floor on this many rows")
    ap.add_argument("--recall-sample", type=int, default=2000)
    ap.add_argument("--recommend-mentors", type=int, default=20_000)
    ap.add_argument("--recommend-calls", type=int, default=2000)
    args = ap.parse_args()
    print(
        f"matching bench: {args.newcomers} newcomers x {args.mentors} mentors, k={args.k}, "
        f"index={args.index}, repeat={args.repeat}, cores={os.cpu_count()}, "
        f"load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    pop, _ = timed(
        "generate population (not timed below)",
        lambda: generate_population(args.mentors, args.newcomers, args.seed),
    )
    policy = Policy(k=args.k, index=args.index, faiss_nprobe=args.nprobe)
    n_eligible = len(np.flatnonzero(~pop.newcomers.has_active_mentor))
    runs, floors, bases, peaks, matched = [], [], [], [], 0
    denses: list[tuple[float, bool]] = []
    for rep in range(args.repeat):  # interleaved, so load from other jobs hits all three alike
        print(f" run {rep + 1}/{args.repeat}", flush=True)
        index, cand, ps, phases, peak = run_project(pop, policy, args.seed)
        runs.append(phases)
        peaks.append(peak)
        d = index.keys.shape[1]
        floors.append(gemm_floor(n_eligible, index.size, d, policy.block_rows, args.floor_rows))
        print(f"  GEMM floor ({d} dims{', extrapolated' if args.floor_rows else ''}) {floors[-1]:9.2f} s")
        print(
            f"  ratio project / floor = {phases['total'] / floors[-1]:.2f}, "
            f"candidates / floor = {phases['candidates'] / floors[-1]:.2f}",
            flush=True,
        )
        if not args.skip_peers:
            dense, t_dense = timed(
                "dense search (same pools, every pair)",
                lambda idx=index: find_candidates(idx, pop.newcomers, seed=args.seed, method="dense"),
            )
            same = all(
                np.array_equal(getattr(dense, f), getattr(cand, f))
                for f in ("newcomer_rows", "pool_rows", "pool_scores", "mentor_rows", "scores")
            )
            # The proposals too: the assignment of the dense search's candidates, column by column.
            dense_ps = assign_candidates(index, pop.newcomers, dense)
            same_ps = len(dense_ps) == len(ps) and all(
                np.array_equal(getattr(dense_ps, f), getattr(ps, f)) for f in PROPOSAL_FIELDS
            )
            denses.append((t_dense, same and same_ps))
            print(
                f"  dense / floor = {t_dense / floors[-1]:.2f}, pools bit-identical: {same}, "
                f"proposals bit-identical: {same_ps}",
                flush=True,
            )
        if not args.skip_baseline:
            matched, t_base = baseline(index, pop.newcomers, args.k, args.baseline_fetch)
            bases.append(t_base)
            print(f"  baseline {t_base:9.2f} s, speed-up {t_base / phases['total']:.2f}x", flush=True)
    method = choose_method(n_eligible, index.size) if args.index == "auto" else args.index
    med = {key: float(np.median([r[key] for r in runs])) for key in runs[0]}
    floor = float(np.median(floors))
    ratios = [r["total"] / f for r, f in zip(runs, floors, strict=True)]
    print(f"medians of {args.repeat} run(s), retrieval {method}:")
    for key, value in med.items():
        print(f"  {key:<38s} {value:9.2f} s")
    print(f"  peak RSS {max(peaks) / 2**30:.2f} GiB")
    print("  quality:", {k: round(v, 4) for k, v in evaluate(ps, pop.mentors, pop.newcomers).items()})
    cand_ratios = [r["candidates"] / f for r, f in zip(runs, floors, strict=True)]
    print(
        f"  GEMM floor {floor:9.2f} s; project / floor per run {[round(x, 2) for x in ratios]}, "
        f"median {np.median(ratios):.2f} (target <= 1.0); candidates / floor per run "
        f"{[round(x, 2) for x in cand_ratios]}, median {np.median(cand_ratios):.2f}"
    )
    if denses:
        dense_ratios = [t / f for (t, _), f in zip(denses, floors, strict=True)]
        print(
            f"  dense search / floor per run {[round(x, 2) for x in dense_ratios]}; pruned pools and "
            f"proposals bit-identical to the dense search's in every run: {all(same for _, same in denses)}"
        )
    if bases:
        speed = [b / r["total"] for b, r in zip(bases, runs, strict=True)]
        print(
            f"  baseline (sklearn brute cosine + Python filter + greedy) median {np.median(bases):.2f} s, "
            f"{matched} matched vs {len(ps)} by min-cost flow"
        )
        print(
            f"  speed-up per run {[round(x, 2) for x in speed]}, median {np.median(speed):.2f}x (target >= 5)"
        )
    rec_ids, rec_ties = recall_at_k(index, pop.newcomers, method, args.recall_sample, args.seed)
    print(
        f"  recall@{args.k} vs exact ({method}, {args.recall_sample} newcomers): ids {rec_ids:.4f}, "
        f"tie-aware {rec_ties:.4f} (target >= 0.99)"
    )
    full_ids, full_ties = full_score_recall(index, pop.newcomers, cand, args.recall_sample, args.seed)
    print(
        f"  recall@{args.k} vs a full-score brute force ({args.recall_sample} newcomers): "
        f"ids {full_ids:.4f}, tie-aware {full_ties:.4f} (target 1.0)"
    )
    if not args.skip_peers:
        (old, proven), _ = timed(
            "previous pool (top 2k by retrieval)", lambda: retrieval_pool_candidates(index, pop.newcomers)
        )
        old_ps = assign_candidates(index, pop.newcomers, old)
        old_ids, old_ties = full_score_recall(index, pop.newcomers, old, args.recall_sample, args.seed)
        print(
            f"  previous pool of {index.pool}: recall@{args.k} vs the brute force ids {old_ids:.4f}, "
            f"tie-aware {old_ties:.4f}; rows provably exact {proven:.1%}; {len(old_ps)} matches after "
            f"assignment against {len(ps)} now ({len(ps) - len(old_ps):+d}, "
            f"{(len(ps) - len(old_ps)) / max(len(old_ps), 1):+.1%})"
        )
    print(f"  load average at the end {os.getloadavg()[0]:.1f}")
    p50, p99 = recommend_latency(pop, args.recommend_mentors, args.recommend_calls)
    print(
        f"  recommend at {min(args.recommend_mentors, args.mentors)} mentors, {args.recommend_calls} calls: "
        f"p50 {p50 * 1e3:.2f} ms, p99 {p99 * 1e3:.2f} ms (target p99 <= 20 ms)"
    )


if __name__ == "__main__":
    main()
