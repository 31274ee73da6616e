"""Does learning from coordinators help? Rounds of propose -> persona decides -> retrain -> gate.

    .venv/bin/python -m bench.learning_bench [--personas all] [--rounds 3] [--scope 1500]
    .venv/bin/python -m bench.learning_bench --timing-only [--timing-repeats 5]

For every persona (matching/simulate.py) and two scope modes (a fresh newcomer scope each round, and
one scope repeated), prints per round the approval rate of the learned arm and of the control arm
(default scorer, same scope, same starting state), the lift with a 95% bootstrap interval, the held-out
AUC of the round's candidate and the gate's verdict, anti-copying violations and the cross-county share;
then checks the targets. "coverage" is the share of the scope's newcomers who got a proposal: a model
that raised approval by proposing to fewer newcomers would show there.

The outcome arm (--outcome-personas, fresh scopes) trains on outcome labels instead: whether a proposal
was approved and its match then succeeded (simulate.OUTCOME, hidden rules of its own over stored
fields; a rejected proposal is a failure), and prints the success rate of approved pairs in both arms
with the lift's interval; the approval arm's rows print the same success rates, so the two labels can
be compared. Every arm's approval must stay within 2 points of the control in every round.

Finally times a 10,000 x 2,000 run with and without the re-ranker, interleaved, and prints the ratio
(the floor is the same run without the re-ranker, in the same process).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from matching import LearnedRanker, Policy, pair_features, propose
from matching.rounds import RoundResult, run_rounds
from matching.simulate import OUTCOME, PERSONAS, persona
from matching.synthetic import generate_population


def _violations(e: dict[str, float]) -> float:
    return e["same_prefecture_identical"] + e["diversity_violations"]


def _print_round(name: str, mode: str, r: RoundResult) -> None:
    verdict = "-" if r.promoted is None else ("promoted" if r.promoted else "kept active")
    success = "-"
    if r.learned_success is not None and r.control_success is not None:
        success = (
            f"{r.learned_success:.3f} / {r.control_success:.3f} "
            f"[{100 * (r.success_low or 0):+.1f}, {100 * (r.success_high or 0):+.1f}]"
        )
    print(
        f"| {name} | {mode} | {r.round} | {r.learned_approval:.3f} | {r.control_approval:.3f} | "
        f"{100 * r.lift:+.1f} [{100 * r.lift_low:+.1f}, {100 * r.lift_high:+.1f}] | {r.candidate_auc:.3f} | "
        f"{verdict} | {_violations(r.learned_eval):.0f} / {_violations(r.control_eval):.0f} | "
        f"{r.learned_eval['cross_county_share']:.2f} | {r.learned_eval['coverage']:.3f} / "
        f"{r.control_eval['coverage']:.3f} | {r.learned_eval['exploration_share']:.3f} | {success} |",
        flush=True,
    )


def _targets(results: list[RoundResult], *, lift: bool = True) -> list[str]:
    """Failed targets of one persona and scope mode (empty = all met); lift=False skips round 3's."""
    failed = []
    if lift and len(results) >= 3:
        r1, r3 = results[0], results[2]
        if r3.learned_approval < r1.learned_approval + 0.15:
            failed.append(f"round 3 {r3.learned_approval:.3f} < round 1 {r1.learned_approval:.3f} + 0.15")
        if r3.lift < 0.10:
            failed.append(f"round 3 lift {r3.lift:+.3f} < +0.10")
    for r in results:
        if r.lift < -0.02:
            failed.append(f"round {r.round} more than 2 points below control ({r.lift:+.3f})")
        if _violations(r.learned_eval) or _violations(r.control_eval):
            failed.append(f"round {r.round} anti-copying violations")
        if r.learned_eval["cross_county_share"] < 1.0:
            failed.append(f"round {r.round} cross-county share below 1")
    return failed


def rounds_bench(args: argparse.Namespace) -> None:
    """All personas x both scope modes."""
    pop = generate_population(args.mentors, args.newcomers, seed=args.seed)
    perm = np.random.default_rng(args.seed).permutation(len(pop.newcomers))
    fresh = [
        pop.newcomers.take(np.sort(perm[i * args.scope : (i + 1) * args.scope])) for i in range(args.rounds)
    ]
    repeated = [fresh[0]] * args.rounds
    names = [p.name for p in PERSONAS] if args.personas == "all" else args.personas.split(",")
    print(
        f"population {args.mentors} mentors x {args.newcomers} newcomers, "
        f"scope {args.scope}, seed {args.seed}"
    )
    print(
        "| persona | scope | round | learned | control | lift points [95% CI] | candidate AUC | gate | "
        "anti-copying learned / control | cross-county | coverage learned / control | explored | "
        "success of approved, learned / control [lift 95% CI] |"
    )
    print("| --- | --- | ---: | ---: | ---: | --- | ---: | --- | --- | ---: | --- | ---: | --- |")
    summary = []
    for name in names:
        who = persona(name)
        for mode, scopes in (("fresh", fresh), ("repeated", repeated)):
            t0 = time.perf_counter()
            results = run_rounds(who, pop.mentors, scopes, seed=args.seed, outcome=OUTCOME)
            for r in results:
                _print_round(name, mode, r)
            failed = _targets(results)
            summary.append((name, mode, failed, time.perf_counter() - t0))
    outcome_names = (
        [p.name for p in PERSONAS] if args.outcome_personas == "all" else args.outcome_personas.split(",")
    )
    outcome_summary = []
    for name in [n for n in outcome_names if n]:
        results = run_rounds(
            persona(name), pop.mentors, fresh, seed=args.seed, outcome=OUTCOME, label="outcome"
        )
        for r in results:
            _print_round(name, "fresh, outcome labels", r)
        r1, last = results[0], results[-1]
        outcome_summary.append(
            f"{name:16s} outcome labels: success of approved pairs round 1 {r1.learned_success:.3f}, "
            f"round {last.round} {last.learned_success:.3f} vs control {last.control_success:.3f} "
            f"[{100 * (last.success_low or 0):+.1f}, {100 * (last.success_high or 0):+.1f}]; approval "
            f"{last.learned_approval:.3f} vs {last.control_approval:.3f}"
        )
        # Outcome labels answer to the approval rule and the hard rules, not to the approval lift targets.
        failed = _targets(results, lift=False)
        outcome_summary.append(
            f"{name:16s} outcome  {'PASS' if not failed else 'FAIL: ' + '; '.join(failed)}"
        )
    print()
    for name, mode, failed, secs in summary:
        print(
            f"{name:16s} {mode:8s} {'PASS' if not failed else 'FAIL: ' + '; '.join(failed)}  ({secs:.0f} s)"
        )
    for line in outcome_summary:
        print(line)


def timing_bench(repeats: int = 5) -> None:
    """10,000 newcomers x 2,000 mentors, with and without the re-ranker, interleaved; median ratio.

    The target is on wall time; CPU time (less sensitive to other processes on a shared machine) is
    printed beside it.
    """
    pop = generate_population(2000, 10_000, seed=11)
    policy = Policy()
    first = propose(pop.mentors, pop.newcomers, policy, seed=1)
    x = pair_features(pop.mentors, pop.newcomers, first.mentor_row, first.newcomer_row)
    approved, _ = persona("issue_mix").decide(x, first.newcomer_id, first.mentor_id)
    ranker = LearnedRanker.fit(x, approved, groups=first.newcomer_id)
    plain, learned, plain_cpu, learned_cpu = [], [], [], []
    for i in range(repeats):
        # Alternate which run goes first, so a load that rises or falls during a pair hits both sides.
        arms = [(None, plain, plain_cpu), (ranker, learned, learned_cpu)]
        for rk, wall, cpu in arms if i % 2 == 0 else arms[::-1]:
            t, c = time.perf_counter(), time.process_time()
            propose(pop.mentors, pop.newcomers, policy, ranker=rk, seed=1)
            wall.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
    ratios = [b / a for a, b in zip(plain, learned, strict=True)]
    print(f"10,000 x 2,000 without re-ranker: {', '.join(f'{v:.2f}' for v in plain)} s")
    print(
        f"10,000 x 2,000 with re-ranker ({ranker.kind}, pool {policy.rerank_pool} retrieved + "
        f"{policy.rerank_near} nearest, {policy.rerank_k} to the assignment): "
        f"{', '.join(f'{v:.2f}' for v in learned)} s"
    )
    print(
        f"ratio per run: {', '.join(f'{v:.2f}' for v in ratios)}; median {statistics.median(ratios):.2f} "
        f"(target <= 1.5)"
    )
    cpu_ratios = [b / a for a, b in zip(plain_cpu, learned_cpu, strict=True)]
    print(
        f"CPU seconds (all threads) without / with: {', '.join(f'{v:.2f}' for v in plain_cpu)} / "
        f"{', '.join(f'{v:.2f}' for v in learned_cpu)}; median ratio {statistics.median(cpu_ratios):.2f}"
    )


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--personas", default="all", help="comma-separated names, or all")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mentors", type=int, default=2000)
    parser.add_argument("--newcomers", type=int, default=6000)
    parser.add_argument("--scope", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--outcome-personas",
        default="all",
        help="personas of the outcome-label arm (comma-separated, all, or '')",
    )
    parser.add_argument("--timing-only", action="store_true")
    parser.add_argument("--timing-repeats", type=int, default=5)
    parser.add_argument("--no-timing", action="store_true")
    args = parser.parse_args()
    if not args.timing_only:
        rounds_bench(args)
    if not args.no_timing:
        timing_bench(args.timing_repeats)


if __name__ == "__main__":
    main()
