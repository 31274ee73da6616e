"""A matching run on a Dask cluster (JIEDUAN_DASK_SCHEDULER): per-shard progress, a lease kept alive while
the cluster works, a killed Dask worker that costs neither the run nor a duplicate, in-process results."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from distributed import Client, LocalCluster, Scheduler
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

import matching.distributed as dist
from app.access import Caller
from app.config import Settings
from app.errors import Conflict
from app.jobs import queue
from app.jobs.handlers import HANDLERS
from app.jobs.worker import Worker
from app.matches import adapter
from app.models import Account, Job, Match, MatchingRun, Newcomer, Region
from app.runs.schemas import RunCreate, RunRead
from app.runs.service import cancel_run, create_run
from matching import propose
from tests.dask_cluster import BlockFirstAttempt, HookedShard, wait_for
from tests.runs.demo_db import demo_sessions, end_active_runs

SHARD_ROWS = 256
LEASE_SECONDS = 2


@pytest.fixture(scope="module")
def sessions(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[sessionmaker[Session]]:
    with demo_sessions(database_url, tmp_path_factory.mktemp("cluster"), seed=3) as factory:
        yield factory


@pytest.fixture(autouse=True)
def _no_run_left_active(sessions: sessionmaker[Session]) -> Iterator[None]:
    yield
    end_active_runs(sessions)


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


def _job(s: Session, run_id: int) -> Job:
    job = s.scalar(select(Job).where(Job.kind == "matching_run", Job.ref_id == run_id))
    assert job is not None
    return job


def _retry_now(sessions: sessionmaker[Session], run_id: int) -> None:
    # The queue backs a failed attempt off by seconds; the test does not wait for it.
    with sessions.begin() as s:
        _job(s, run_id).run_after = datetime.now(UTC) - timedelta(seconds=1)


def _run_with(sessions: sessionmaker[Session], settings: Settings, name: str) -> None:
    """One claim and run of the queued job, in a thread the test can give up on (a hang fails it)."""
    worker = Worker(sessions, HANDLERS, settings=settings, lease_seconds=30, heartbeat_seconds=0.5, name=name)
    runner = threading.Thread(target=worker.run_once, daemon=True)
    runner.start()
    runner.join(180)
    assert not runner.is_alive(), "the job worker never came back from the cluster"


def _unreachable(sessions: sessionmaker[Session], address: str) -> Settings:
    url = str(sessions.kw["bind"].url.render_as_string(hide_password=False))
    return Settings(
        env="test",
        database_url=url,
        secret_key="cluster-secret-key-0123456789abcdef",
        run_worker=False,
        dask_scheduler=address,
        dask_connect_seconds=1,
        dask_shard_rows=SHARD_ROWS,
    )


@contextmanager
def _listener(reply: bytes | None) -> Iterator[str]:
    """A TCP listener that is no Dask scheduler: silent (reply None) or answering garbage."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return  # closed by the test
            if reply is None:
                held.append(conn)  # accept and never answer
            else:
                with contextlib.suppress(OSError):
                    conn.sendall(reply)
                conn.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()
        for conn in held:
            conn.close()


def _start(sessions: sessionmaker[Session], scope: str) -> int:
    with sessions.begin() as s:
        admin = s.scalar(select(Account).where(Account.username == "admin"))
        return create_run(s, Caller.of(admin), RunCreate(scope_code=scope, k=3)).id


def _proposals_per_newcomer(sessions: sessionmaker[Session], run_id: int) -> dict[int, int]:
    with sessions() as s:
        rows = s.execute(
            select(Match.newcomer_id, func.count()).where(Match.run_id == run_id).group_by(Match.newcomer_id)
        )
        return {int(n): int(c) for n, c in rows}


@pytest.mark.parametrize(
    "reply", [None, b"HTTP/1.1 400 Bad Request\r\n\r\n" * 64], ids=["silent", "not-dask"]
)
def test_a_scheduler_address_that_is_no_scheduler_fails_the_attempt(
    sessions: sessionmaker[Session], reply: bytes | None
) -> None:
    # A listener that accepts and never answers kept the driver waiting for ever (the heartbeat kept
    # the lease), and one answering garbage failed the run with a 3 EiB MemoryError.
    run_id = _start(sessions, "37")
    with _listener(reply) as address:
        for attempt in (1, 2, 3):
            if attempt > 1:
                _retry_now(sessions, run_id)
            _run_with(sessions, _unreachable(sessions, address), f"driver-{attempt}")
    with sessions() as s:
        run, job = s.get(MatchingRun, run_id), _job(s, run_id)
        assert run is not None and job.status == "failed" and job.attempts == 3
        assert run.status == "failed" and run.finished_at is not None
        assert run.error_detail is not None and "Dask scheduler" in run.error_detail
        assert "MemoryError" not in run.error_detail
    assert _proposals_per_newcomer(sessions, run_id) == {}


def test_a_failed_attempt_leaves_the_run_queued_and_the_retry_proposes_once(
    sessions: sessionmaker[Session], dask_client: Client
) -> None:
    run_id = _start(sessions, "37")
    _run_with(sessions, _unreachable(sessions, "tcp://127.0.0.1:1"), "driver-down")
    with sessions() as s:
        run, job = s.get(MatchingRun, run_id), _job(s, run_id)
        assert job.status == "queued" and job.attempts == 1
        # Not failed: the queue runs it again. A run that read "failed" here let a coordinator start an
        # overlapping run, and then both ran.
        assert run is not None and run.status == "queued" and run.finished_at is None
        assert run.error_detail is not None and "Dask scheduler" in run.error_detail
    with sessions.begin() as s, pytest.raises(Conflict):
        admin = s.scalar(select(Account).where(Account.username == "admin"))
        create_run(s, Caller.of(admin), RunCreate(scope_code="3717", k=3))

    _retry_now(sessions, run_id)
    _run_with(sessions, _settings(sessions, dask_client), "driver-up")
    with sessions() as s:
        run, job = s.get(MatchingRun, run_id), _job(s, run_id)
        assert run is not None and run.status == "done" and run.error_detail is None
        assert job.status == "done" and job.attempts == 2
        proposals = run.counts["proposals"]
    per_newcomer = _proposals_per_newcomer(sessions, run_id)
    assert sum(per_newcomer.values()) == proposals > 0
    assert set(per_newcomer.values()) == {1}


def test_a_scheduler_without_workers_fails_the_attempt(sessions: sessionmaker[Session]) -> None:
    # Shards queued on a cluster with no workers waited for ever, the lease kept alive all along.
    run_id = _start(sessions, "37")
    with LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as empty:
        _run_with(sessions, _unreachable(sessions, empty.scheduler_address), "driver-empty")
    with sessions() as s:
        run, job = s.get(MatchingRun, run_id), _job(s, run_id)
        assert job.status == "queued" and run is not None and run.status == "queued"
        assert run.error_detail is not None and "no workers" in run.error_detail


def test_a_driver_killed_mid_run_is_taken_over_and_the_run_proposes_once(
    sessions: sessionmaker[Session], dask_client: Client, tmp_path: Path
) -> None:
    run_id = _start(sessions, "37")
    url = str(sessions.kw["bind"].url.render_as_string(hide_password=False))
    driver = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.runs.doomed_driver",
            url,
            dask_client.scheduler.address,
            str(tmp_path),
            str(SHARD_ROWS),
        ],
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        wait_for(tmp_path / "pid")  # the driver's first shard is on a Dask worker: the run is mid-way
        assert _progress(sessions, run_id)[0] == "running"
        driver.kill()  # SIGKILL: no shutdown, no lease handed back
        driver.wait(60)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait(60)
        (tmp_path / "go").touch()
    # Another worker takes the job over once the dead driver's lease has lapsed.
    heir = Worker(
        sessions, HANDLERS, settings=_settings(sessions, dask_client), lease_seconds=30, name="heir"
    )
    deadline = time.monotonic() + 300
    while not heir.run_once():
        assert time.monotonic() < deadline, "nobody took the dead driver's job over"
        time.sleep(0.2)
    with sessions() as s:
        run, job = s.get(MatchingRun, run_id), _job(s, run_id)
        assert run is not None and run.status == "done", run.error_detail if run else None
        assert job.status == "done" and job.attempts == 2 and job.locked_by == "heir"
        proposals = run.counts["proposals"]
    per_newcomer = _proposals_per_newcomer(sessions, run_id)
    assert sum(per_newcomer.values()) == proposals > 0 and set(per_newcomer.values()) == {1}


def _stored(sessions: sessionmaker[Session], run_id: int) -> list[tuple[int, int]]:
    with sessions() as s:
        rows = s.execute(select(Match.newcomer_id, Match.mentor_id).where(Match.run_id == run_id))
        return sorted((int(n), int(m)) for n, m in rows)


def _in_process(sessions: sessionmaker[Session], run_id: int) -> list[tuple[int, int]]:
    with sessions() as s:
        run = s.get(MatchingRun, run_id)
        assert run is not None
        mentors, newcomers = adapter.load_mentors(s), adapter.load_newcomers(s, run.scope_code)
        excluded = adapter.excluded_pairs(s, newcomers.ids.tolist())
        policy = replace(adapter.policy_of(RunCreate.from_policy(run.policy)), block_rows=SHARD_ROWS)
    got = propose(mentors, newcomers, policy, exclude_pairs=excluded, seed=run_id)
    return sorted(zip(got.newcomer_id.tolist(), got.mentor_id.tolist(), strict=True))


def test_two_runs_at_once_on_one_cluster_each_equal_in_process(
    sessions: sessionmaker[Session], dask_client: Client
) -> None:
    run_ids = [_start(sessions, scope) for scope in ("37", "32")]
    settings = _settings(sessions, dask_client)
    workers = [
        Worker(sessions, HANDLERS, settings=settings, lease_seconds=30, name=f"driver-{i}") for i in range(2)
    ]
    threads = [threading.Thread(target=w.run_once, daemon=True) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
        assert not t.is_alive()
    for run_id in run_ids:
        with sessions() as s:
            run = s.get(MatchingRun, run_id)
            assert run is not None and run.status == "done", run.error_detail if run else None
        stored = _stored(sessions, run_id)
        assert stored and stored == _in_process(sessions, run_id)
        assert len({n for n, _ in stored}) == len(stored)


def test_a_driver_whose_thread_is_inside_an_event_loop_reaches_the_cluster(
    sessions: sessionmaker[Session], dask_client: Client
) -> None:
    # A driver thread with a running event loop (an embedding application's, or a library that runs one
    # on the main thread, as Playwright's sync API does) made the scheduler probe's asyncio.run refuse,
    # and the refusal failed the run as "the Dask scheduler could not be reached".
    run_id = _start(sessions, "37")
    worker = Worker(
        sessions, HANDLERS, settings=_settings(sessions, dask_client), lease_seconds=30, name="in-loop"
    )

    async def drive() -> bool:
        assert asyncio.get_running_loop().is_running()
        return worker.run_once()  # blocking on purpose: the loop stays "running" in this thread

    runner = threading.Thread(target=lambda: asyncio.run(drive()), daemon=True)
    runner.start()
    runner.join(300)
    assert not runner.is_alive(), "the job worker never came back from the cluster"
    with sessions() as s:
        run = s.get(MatchingRun, run_id)
        assert run is not None and run.status == "done", run.error_detail if run else None
    stored = _stored(sessions, run_id)
    assert stored and stored == _in_process(sessions, run_id)


def test_a_scheduler_gone_mid_run_queues_the_run_again_and_the_retry_proposes_once(
    sessions: sessionmaker[Session], dask_client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = _start(sessions, "37")
    monkeypatch.setattr(dist, "run_shard", HookedShard(BlockFirstAttempt(tmp_path, shard=0)))
    cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0")
    address = cluster.scheduler_address
    worker = Worker(
        sessions, HANDLERS, settings=_unreachable(sessions, address), lease_seconds=30, name="driver-cut"
    )
    runner = threading.Thread(target=worker.run_once, daemon=True)
    runner.start()
    try:
        wait_for(tmp_path / "pid")
        assert _progress(sessions, run_id)[0] == "running"
    finally:
        (tmp_path / "go").touch()
        cluster.close()  # the scheduler (and its worker) go away while the run waits for its shard
    runner.join(180)
    assert not runner.is_alive(), "the driver kept waiting for a scheduler that was gone"
    with sessions() as s:
        run, job = s.get(MatchingRun, run_id), _job(s, run_id)
        assert job.status == "queued" and run is not None and run.status == "queued"
        # What the run's readers see names the cause, not the cluster's internal address.
        assert run.error_detail is not None and "Dask" in run.error_detail
        assert address.split("://")[-1] not in run.error_detail
    monkeypatch.undo()
    _retry_now(sessions, run_id)
    _run_with(sessions, _settings(sessions, dask_client), "driver-again")
    with sessions() as s:
        run = s.get(MatchingRun, run_id)
        assert run is not None and run.status == "done" and run.error_detail is None
    stored = _stored(sessions, run_id)
    assert stored == _in_process(sessions, run_id) and len({n for n, _ in stored}) == len(stored)


def test_a_run_with_no_newcomers_to_match_needs_no_cluster(sessions: sessionmaker[Session]) -> None:
    # Nothing to compute: a township without newcomers was failed (three times) by an unreachable
    # cluster it never needed.
    with sessions() as s:
        homes = {code[:6] for code in s.scalars(select(Newcomer.region_code))}
        counties = s.scalars(select(Region.code).where(Region.level == "county").order_by(Region.code))
        empty = next(code for code in counties if code not in homes)
    run_id = _start(sessions, empty)
    _run_with(sessions, _unreachable(sessions, "tcp://127.0.0.1:1"), "driver-idle")
    with sessions() as s:
        run = s.get(MatchingRun, run_id)
        assert run is not None and run.status == "done", run.error_detail if run else None
        assert run.progress == 1.0 and run.counts["newcomers"] == 0 and run.counts["proposals"] == 0
        # Coverage over no newcomers has no value: null, not NaN (which JSON, and JSONB, do not have).
        assert run.evaluation["coverage"] is None
        json.dumps(RunRead.model_validate(run).model_dump(mode="json"), allow_nan=False)


def test_a_run_cancelled_on_the_cluster_stops_its_shards_and_writes_nothing(
    sessions: sessionmaker[Session], dask_client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = _start(sessions, "37")
    monkeypatch.setattr(dist, "run_shard", HookedShard(BlockFirstAttempt(tmp_path, shard=0)))
    worker = Worker(
        sessions,
        HANDLERS,
        settings=_settings(sessions, dask_client),
        lease_seconds=30,
        heartbeat_seconds=0.5,
        name="driver-cancelled",
    )
    runner = threading.Thread(target=worker.run_once, daemon=True)
    runner.start()
    try:
        wait_for(tmp_path / "pid")  # shard 0 is running on a Dask worker
        with sessions.begin() as s:
            admin = s.scalar(select(Account).where(Account.username == "admin"))
            assert cancel_run(s, Caller.of(admin), run_id).status == "cancelled"
    finally:
        (tmp_path / "go").touch()
    runner.join(180)
    assert not runner.is_alive(), "the driver kept working on a cancelled run"
    with sessions() as s:
        run, job = s.get(MatchingRun, run_id), _job(s, run_id)
        assert run is not None and run.status == "cancelled" and job.status == "cancelled"
    assert _proposals_per_newcomer(sessions, run_id) == {}

    def shards_left(dask_scheduler: Scheduler) -> list[str]:
        return [str(key) for key in dask_scheduler.tasks if "jieduan-shard" in str(key)]

    deadline = time.monotonic() + 60
    while dask_client.run_on_scheduler(shards_left):
        assert time.monotonic() < deadline, "the cancelled run's shards stayed on the cluster"
        time.sleep(0.1)
