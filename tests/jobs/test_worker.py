"""The worker's lease: heartbeats for the whole handler, no writes after losing it, graceful shutdown."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from app.jobs import queue
from app.jobs.worker import JobContext, Worker
from app.models import Job

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _enqueue(sessions, kind: str = "slow", **kw) -> int:
    with sessions.begin() as session:
        return queue.enqueue(session, kind=kind, ref_id=1, **kw).id


def _job(sessions, job_id: int) -> Job:
    with sessions() as session:
        job = session.get(Job, job_id)
        session.expunge(job)
        return job


def _claim(sessions, worker_id: str) -> Job | None:
    with sessions.begin() as session:
        return queue.claim_next(session, worker_id=worker_id, lease_seconds=60, kinds=("slow",))


def test_heartbeats_keep_a_long_handler_s_lease(committed, committed_settings):
    """The handler never beats itself; the worker's thread must keep the 1 s lease alive for 3 s."""
    job_id = _enqueue(committed)
    started, release = threading.Event(), threading.Event()

    def handler(ctx: JobContext) -> None:
        started.set()
        release.wait(10)

    worker = Worker(
        committed,
        {"slow": handler},
        settings=committed_settings,
        lease_seconds=1,
        heartbeat_seconds=0.1,
        name="long",
    )
    runner = threading.Thread(target=worker.run_once)
    runner.start()
    assert started.wait(10)
    try:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            assert _claim(committed, "thief") is None, "the lease lapsed while the handler was working"
            time.sleep(0.2)
    finally:
        release.set()
        runner.join(10)
    job = _job(committed, job_id)
    assert job.status == "done" and job.attempts == 1 and job.locked_by == "long"


def test_a_handler_that_lost_its_lease_writes_nothing(committed, committed_settings):
    """Without heartbeats the lease lapses and another worker claims the job; the first one may not write."""
    job_id = _enqueue(committed)
    started, taken = threading.Event(), threading.Event()
    wrote: list[str] = []

    def handler(ctx: JobContext) -> None:
        started.set()
        taken.wait(10)
        with ctx.sessions.begin() as session:
            ctx.hold_lease(session)
            wrote.append("written")

    # A heartbeat interval longer than the lease: the lease lapses while the handler works.
    worker = Worker(
        committed, {"slow": handler}, settings=committed_settings, lease_seconds=0.3, heartbeat_seconds=60
    )
    runner = threading.Thread(target=worker.run_once)
    runner.start()
    assert started.wait(10)
    time.sleep(0.6)
    assert _claim(committed, "thief") is not None
    taken.set()
    runner.join(10)
    assert wrote == []
    job = _job(committed, job_id)
    # The first worker did not mark the job done behind the new owner's back.
    assert job.status == "running" and job.locked_by == "thief" and job.attempts == 2


def test_shutdown_hands_the_lease_back_at_once(committed, committed_settings):
    job_id = _enqueue(committed)
    started, proceed = threading.Event(), threading.Event()
    wrote: list[str] = []

    def handler(ctx: JobContext) -> None:
        started.set()
        proceed.wait(10)
        with ctx.sessions.begin() as session:
            ctx.hold_lease(session)
            wrote.append("written")

    worker = Worker(committed, {"slow": handler}, settings=committed_settings, poll_seconds=0.05, name="old")
    worker.start_thread()
    assert started.wait(10)
    assert worker.shutdown(grace_seconds=0.3) is False
    job = _job(committed, job_id)
    assert job.status == "queued" and job.locked_by is None and job.attempts == 0
    # Another worker resumes it now, not after the 300 s lease.
    assert _claim(committed, "new") is not None
    proceed.set()
    time.sleep(0.3)
    assert wrote == []
    assert _job(committed, job_id).locked_by == "new"


def test_shutdown_lets_a_job_finish_within_the_grace_period(committed, committed_settings):
    job_id = _enqueue(committed)
    started = threading.Event()

    def handler(ctx: JobContext) -> None:
        started.set()
        time.sleep(0.5)

    worker = Worker(committed, {"slow": handler}, settings=committed_settings, poll_seconds=0.05)
    worker.start_thread()
    assert started.wait(10)
    assert worker.shutdown(grace_seconds=10) is True
    job = _job(committed, job_id)
    assert job.status == "done" and job.attempts == 1


def test_worker_command_stops_on_sigterm(committed_url):
    env = {
        **os.environ,
        "JIEDUAN_DATABASE_URL": committed_url,
        "JIEDUAN_SECRET_KEY": "k" * 32,
        "JIEDUAN_WORKER_POLL_SECONDS": "0.1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "worker"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)  # type: ignore[arg-type]
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while not any("polling" in line for line in lines):  # the signal handlers are in place by then
            assert proc.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "the worker never started polling"
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        out = proc.stdout.read() if proc.stdout else ""
        proc.wait(30)
        reader.join(5)
    finally:
        if proc.poll() is None:
            proc.kill()
    err = "".join(lines)
    assert proc.returncode == 0, err
    assert "worker stopped" in out and "Traceback" not in err


def test_claims_see_past_an_abandoned_job(committed, committed_settings):
    """A job abandoned at claim time must not hide the next runnable job from the worker."""
    dead = _enqueue(committed, max_attempts=1)
    _claim(committed, "dead")
    with committed.begin() as session:
        session.get(Job, dead).lease_until = session.get(Job, dead).created_at
    nxt = _enqueue(committed)
    ran: list[int] = []
    worker = Worker(committed, {"slow": lambda ctx: ran.append(ctx.job_id)}, settings=committed_settings)
    assert worker.run_until_idle() == 1
    assert ran == [nxt]
    with committed() as session:
        assert session.scalar(select(Job.status).where(Job.id == dead)) == "failed"


def test_retrain_command_prints_a_clear_error(committed_url, monkeypatch, capsys):
    from app.cli import main
    from app.config import get_settings

    monkeypatch.setenv("JIEDUAN_DATABASE_URL", committed_url)
    monkeypatch.setenv("JIEDUAN_SECRET_KEY", "k" * 32)
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit) as exited:
            main(["retrain"])
    finally:
        get_settings.cache_clear()
    message = str(exited.value.code)
    assert message.startswith("jieduan retrain: not_enough_decisions: need at least 20 decisions")
