"""A matching run on a Dask cluster (JIEDUAN_DASK_SCHEDULER): per-shard progress, a lease kept alive while
the cluster works, a killed Dask worker that costs neither the run nor a duplicate, in-process results."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from distributed import Client
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import matching.distributed as dist
from app.access import Caller
from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.jobs import queue
from app.jobs.handlers import HANDLERS
from app.jobs.worker import Worker
from app.matches import adapter
from app.models import Account, Job, Match, MatchingRun
from app.runs.schemas import RunCreate
from app.runs.service import create_run
from app.seed.demo import seed_demo
from matching import propose
from tests.dask_cluster import BlockFirstAttempt, HookedShard, wait_for
from tests.live import private_database

SHARD_ROWS = 256
LEASE_SECONDS = 2


@pytest.fixture(scope="module")
def sessions(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[sessionmaker[Session]]:
    """A committed private database with the demo population (the job and the test read it at once)."""
    with private_database(database_url, tmp_path_factory.mktemp("cluster")) as url:
        engine = make_engine(url)
        factory = make_sessionmaker(engine)
        with factory.begin() as session:
            seed_demo(session, mentors=150, newcomers=1000, seed=3)
        yield factory
        engine.dispose()


def _settings(sessions: sessionmaker[Session], client: Client) -> Settings:
    return Settings(
        env="test",
        database_url=str(sessions.kw["bind"].url.render_as_string(hide_password=False)),
        secret_key="cluster-secret-key-0123456789abcdef",
        run_worker=False,
        dask_scheduler=client.scheduler.address,
        dask_shard_rows=SHARD_ROWS,
    )


def _progress(sessions: sessionmaker[Session], run_id: int) -> tuple[str, float]:
    with sessions() as s:
        run = s.get(MatchingRun, run_id)
        assert run is not None
        return run.status, run.progress


def test_a_cluster_run_survives_a_killed_worker_and_equals_in_process(
    sessions: sessionmaker[Session],
    dask_client: Client,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with sessions.begin() as s:
        admin = s.scalar(select(Account).where(Account.username == "admin"))
        run = create_run(s, Caller.of(admin), RunCreate(scope_code=None, k=5))
        run_id, params = run.id, RunCreate.from_policy(run.policy)
    with sessions() as s:
        mentors, newcomers = adapter.load_mentors(s), adapter.load_newcomers(s, "")
        excluded = adapter.excluded_pairs(s, newcomers.ids.tolist())
    # In-process, with the blocks the cluster run uses (shards smaller than a block shrink it).
    policy = replace(adapter.policy_of(params), block_rows=SHARD_ROWS)
    expected = propose(mentors, newcomers, policy, exclude_pairs=excluded, seed=run_id)
    shards = len(dist.shard_bounds(int((~newcomers.has_active_mentor).sum()), SHARD_ROWS, SHARD_ROWS))
    assert shards >= 3

    monkeypatch.setattr(dist, "run_shard", HookedShard(BlockFirstAttempt(tmp_path, shard=1)))
    worker = Worker(
        sessions,
        HANDLERS,
        settings=_settings(sessions, dask_client),
        lease_seconds=LEASE_SECONDS,
        heartbeat_seconds=0.2,
        name="driver",
    )
    runner = threading.Thread(target=worker.run_once)
    runner.start()
    try:
        wait_for(tmp_path / "pid")
        # Shard 1 waits on its worker; the other worker's shards move the progress one shard at a time.
        deadline = time.monotonic() + 300
        while _progress(sessions, run_id)[1] < 0.3 + 0.4 / shards:
            assert time.monotonic() < deadline, "no shard reported progress"
            time.sleep(0.1)
        status, progress = _progress(sessions, run_id)
        assert status == "running"
        assert progress in {round(0.3 + 0.4 * done / shards, 4) for done in range(1, shards)}
        # The cluster works for longer than the lease: the heartbeat keeps the job ours.
        until = time.monotonic() + LEASE_SECONDS * 1.5
        while time.monotonic() < until:
            with sessions.begin() as s:
                stolen = queue.claim_next(s, worker_id="thief", lease_seconds=60, kinds=("matching_run",))
            assert stolen is None, "the run's lease lapsed while the cluster worked"
            time.sleep(0.2)
        os.kill(int((tmp_path / "pid").read_text()), signal.SIGKILL)  # the Dask worker, mid-shard
    finally:
        (tmp_path / "go").touch()
        runner.join(600)
    assert not runner.is_alive()

    with sessions() as s:
        run = s.get(MatchingRun, run_id)
        assert run.status == "done", run.error_detail
        assert run.progress == 1.0 and run.counts["cluster_workers"] == 2
        job = s.scalar(select(Job).where(Job.kind == "matching_run", Job.ref_id == run_id))
        assert job.status == "done" and job.attempts == 1 and job.locked_by == "driver"
        rows = select(Match.newcomer_id, Match.mentor_id, Match.score).where(Match.run_id == run_id)
        stored = sorted((int(n), int(m), float(sc)) for n, m, sc in s.execute(rows))
    assert len(stored) == len(expected) == run.counts["proposals"] > 0
    assert len({n for n, _, _ in stored}) == len(stored), "a newcomer was proposed twice"
    want = sorted(
        zip(expected.newcomer_id.tolist(), expected.mentor_id.tolist(), expected.score.tolist(), strict=True)
    )
    assert [(n, m) for n, m, _ in stored] == [(n, m) for n, m, _ in want]
    assert np.allclose([sc for *_, sc in stored], [sc for *_, sc in want], atol=1e-6)


def test_without_a_scheduler_runs_stay_in_process(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_cluster(*args: object, **kw: object) -> None:
        raise AssertionError("an in-process run touched the cluster code")

    monkeypatch.setattr(dist, "propose_distributed", no_cluster)
    with sessions.begin() as s:
        admin = s.scalar(select(Account).where(Account.username == "admin"))
        run_id = create_run(s, Caller.of(admin), RunCreate(scope_code="37", k=3)).id
    url = str(sessions.kw["bind"].url.render_as_string(hide_password=False))
    settings = Settings(env="test", database_url=url, secret_key="x" * 40, run_worker=False)
    assert settings.dask_scheduler is None
    Worker(sessions, HANDLERS, settings=settings, name="local").run_until_idle()
    with sessions() as s:
        run = s.get(MatchingRun, run_id)
        assert run.status == "done" and "cluster_workers" not in run.counts and run.counts["proposals"] > 0
