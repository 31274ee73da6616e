"""Matching on a Dask LocalCluster (worker processes): the same proposals as in-process, a killed worker
costs nothing but time, and the mentor index is built once and scattered."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from distributed import Client

import matching.distributed as dist
from matching import Policy, ProposalSet, propose
from matching.candidates import MentorIndex
from matching.synthetic import SyntheticPopulation, generate_population
from tests.dask_cluster import BlockFirstAttempt, wait_for

FIELDS = ("newcomer_id", "mentor_id", "score", "value", "parts", "rank", "explored", "propensity")
# Small blocks and shards, so a small population still spans many shards (and shard boundaries).
POLICY = Policy(block_rows=128)
SHARD_ROWS = 256


@pytest.fixture
def client(dask_client: Client) -> Client:
    return dask_client


@pytest.fixture(scope="module")
def pop() -> SyntheticPopulation:
    return generate_population(250, 2000, seed=11)


def assert_same(a: ProposalSet, b: ProposalSet) -> None:
    assert len(a) > 0
    for name in FIELDS:
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


@pytest.mark.parametrize(
    "policy",
    [POLICY, Policy(block_rows=128, pairing="mixed", separation="province", k=5)],
    ids=["default", "mixed-province"],
)
def test_sharded_run_equals_in_process(client: Client, pop: SyntheticPopulation, policy: Policy) -> None:
    excluded = [(int(pop.newcomers.ids[i]), int(pop.mentors.ids[i % 250])) for i in range(0, 2000, 7)]
    progress: list[tuple[int, int]] = []
    local = propose(pop.mentors, pop.newcomers, policy, exclude_pairs=excluded, seed=4)
    remote = dist.propose_distributed(
        client,
        pop.mentors,
        pop.newcomers,
        policy,
        exclude_pairs=excluded,
        seed=4,
        shard_rows=SHARD_ROWS,
        on_progress=lambda done, total: progress.append((done, total)),
    )
    assert_same(local, remote)
    shards = len(dist.shard_bounds(int((~pop.newcomers.has_active_mentor).sum()), 128, SHARD_ROWS))
    assert shards > 4
    assert progress == [(i, shards) for i in range(1, shards + 1)]


def test_index_is_built_once_and_broadcast(
    client: Client, pop: SyntheticPopulation, monkeypatch: pytest.MonkeyPatch
) -> None:
    scattered: list[tuple[Any, dict[str, Any]]] = []
    built: list[int] = []
    real_scatter, real_build = client.scatter, dist.build_index

    def scatter(data: Any, **kw: Any) -> Any:
        scattered.append((data, kw))
        return real_scatter(data, **kw)

    def build(*args: Any, **kw: Any) -> MentorIndex:
        built.append(1)
        return real_build(*args, **kw)

    monkeypatch.setattr(client, "scatter", scatter)
    monkeypatch.setattr(dist, "build_index", build)
    dist.propose_distributed(client, pop.mentors, pop.newcomers, POLICY, shard_rows=SHARD_ROWS)
    assert built == [1]
    assert len(scattered) == 1
    data, kw = scattered[0]
    assert isinstance(data, MentorIndex) and kw.get("broadcast") is True


def test_a_killed_worker_reruns_its_shard_without_duplicates(
    client: Client, pop: SyntheticPopulation, tmp_path: Path
) -> None:
    local = propose(pop.mentors, pop.newcomers, POLICY, seed=2)
    out: dict[str, Any] = {}
    progress: list[tuple[int, int]] = []

    def run() -> None:
        try:
            out["proposals"] = dist.propose_distributed(
                client,
                pop.mentors,
                pop.newcomers,
                POLICY,
                seed=2,
                shard_rows=SHARD_ROWS,
                on_progress=lambda done, total: progress.append((done, total)),
                shard_hook=BlockFirstAttempt(tmp_path, shard=1),
            )
        except BaseException as exc:  # reported by the assertion below
            out["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    try:
        wait_for(tmp_path / "pid")
        victim = int((tmp_path / "pid").read_text())
        assert victim != os.getpid()
        os.kill(victim, signal.SIGKILL)  # mid-shard: the worker process dies with its work
    finally:
        (tmp_path / "go").touch()
        thread.join(600)
    assert not thread.is_alive() and "error" not in out, out.get("error")
    remote: ProposalSet = out["proposals"]
    assert_same(local, remote)
    assert len(np.unique(remote.newcomer_id)) == len(remote)
    # Each shard is counted once, the rerun shard included.
    assert [d for d, _ in progress] == list(range(1, progress[0][1] + 1))


def test_every_worker_killed_during_the_last_shard_costs_nothing_but_time(
    client: Client, pop: SyntheticPopulation, tmp_path: Path
) -> None:
    # Last in the module on purpose: it leaves the cluster with whatever workers the nannies bring back
    # (waiting for both once timed out on a loaded machine, after the run itself had passed).
    # Every copy of the scattered index dies with them: the driver scatters it again to the nannies'
    # fresh workers and resubmits what waited for it.
    local = propose(pop.mentors, pop.newcomers, POLICY, seed=6)
    shards = len(dist.shard_bounds(int((~pop.newcomers.has_active_mentor).sum()), 128, SHARD_ROWS))
    out: dict[str, Any] = {}
    progress: list[tuple[int, int]] = []

    def run() -> None:
        try:
            out["proposals"] = dist.propose_distributed(
                client,
                pop.mentors,
                pop.newcomers,
                POLICY,
                seed=6,
                shard_rows=SHARD_ROWS,
                on_progress=lambda done, total: progress.append((done, total)),
                shard_hook=BlockFirstAttempt(tmp_path, shard=shards - 1),
            )
        except BaseException as exc:  # reported by the assertion below
            out["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    try:
        wait_for(tmp_path / "pid")
        for pid in client.run(os.getpid).values():
            os.kill(pid, signal.SIGKILL)
    finally:
        (tmp_path / "go").touch()
        thread.join(600)
    assert not thread.is_alive() and "error" not in out, out.get("error")
    remote: ProposalSet = out["proposals"]
    assert_same(local, remote)
    assert len(np.unique(remote.newcomer_id)) == len(remote)
    assert progress == [(i, shards) for i in range(1, shards + 1)]
