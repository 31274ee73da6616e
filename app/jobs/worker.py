"""The worker loop: claims jobs and runs their handlers, in-process (default) or as `jieduan worker`.

While a handler runs, a heartbeat thread extends its lease (every third of the lease), so a long
matching run keeps its job for as long as it works. If a heartbeat finds the job taken over, the
context's lease is marked lost; a handler checks it (`ctx.hold_lease`) before each write and stops.
On shutdown the worker waits a grace period for the current job, then gives its lease back, so
another worker resumes it at once instead of after the lease runs out.
"""

from __future__ import annotations

import contextvars
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings, get_settings
from app.jobs import queue
from app.models import Job
from app.observability.logs import bind_job

log = logging.getLogger("jieduan.worker")


class LeaseLost(Exception):
    """Another worker owns this job now (or this one is shutting down): stop without writing."""


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a handler gets: its own session factory (it owns its transactions), settings and its lease."""

    sessions: sessionmaker[Session]
    ref_id: int
    job_id: int
    beat: Callable[[], bool]
    settings: Settings
    worker_id: str = ""
    lease_seconds: float = 300.0
    lost: threading.Event = field(default_factory=threading.Event)

    def hold_lease(self, session: Session) -> None:
        """Inside a write transaction: extend the lease in it, or raise LeaseLost (the writes roll back).

        On PostgreSQL the UPDATE also row-locks the job until commit, so no other worker can claim it
        between this check and the commit.
        """
        if self.lost.is_set() or not queue.heartbeat(
            session, job_id=self.job_id, worker_id=self.worker_id, lease_seconds=self.lease_seconds
        ):
            self.lost.set()
            raise LeaseLost(f"job {self.job_id}: lease lost")


Handler = Callable[[JobContext], None]
# A maintenance task run every `interval` seconds by each worker, with the worker's session factory and
# settings; it must be safe to run concurrently (every worker process runs it).
Periodic = tuple[float, Callable[[sessionmaker[Session], Settings], object]]


@dataclass(frozen=True, slots=True)
class JobKind:
    """A handler and what to do, in the same transaction, when its job fails for good."""

    run: Handler
    on_failed: queue.FailureHook | None = None


class _Heartbeat:
    """Extends one job's lease from a thread until stopped, or until it finds the lease lost."""

    def __init__(self, beat: Callable[[], bool], lost: threading.Event, interval: float) -> None:
        self._beat = beat
        self._lost = lost
        self._interval = interval
        self._done = threading.Event()
        # Run in a copy of the caller's context, so its log lines carry the job id too.
        context = contextvars.copy_context()
        self._thread = threading.Thread(
            target=context.run, args=(self._loop,), name="jieduan-heartbeat", daemon=True
        )

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._done.wait(self._interval):
            try:
                held = self._beat()
            except Exception:  # the database blinked: keep the handler going and try again
                log.exception("heartbeat failed")
                continue
            if not held:
                log.warning("lease lost: another worker took this job over, or it was cancelled")
                return


class Worker:
    """Runs jobs one at a time; several workers (threads or processes) may share one database."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        handlers: Mapping[str, Handler | JobKind],
        *,
        settings: Settings | None = None,
        lease_seconds: float | None = None,
        poll_seconds: float | None = None,
        heartbeat_seconds: float | None = None,
        name: str | None = None,
        periodic: tuple[Periodic, ...] = (),
    ) -> None:
        self.sessions = sessions
        self.settings = settings or get_settings()
        self.kinds = {k: v if isinstance(v, JobKind) else JobKind(v) for k, v in handlers.items()}
        self.lease_seconds = lease_seconds or self.settings.job_lease_seconds
        self.poll_seconds = poll_seconds or self.settings.worker_poll_seconds
        self.heartbeat_seconds = heartbeat_seconds or self.lease_seconds / 3
        self.worker_id = name or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        self.periodic = periodic
        # Due at once: the monotonic clock starts at boot, so 0.0 would postpone them on a fresh machine.
        self._last_run = [float("-inf")] * len(periodic)
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._current: JobContext | None = None
        self._thread: threading.Thread | None = None

    def _on_failed(self, session: Session, job: Job) -> None:
        kind = self.kinds.get(job.kind)
        if kind is not None and kind.on_failed is not None:
            kind.on_failed(session, job)

    def run_once(self) -> bool:
        """Claim and run one job; False when there was nothing to do (or the worker is stopping)."""
        self._idle.clear()
        try:
            return self._run_one()
        finally:
            self._current = None
            self._idle.set()

    def _run_one(self) -> bool:
        if self._stop.is_set():
            return False
        with self.sessions.begin() as session:
            job = queue.claim_next(
                session,
                worker_id=self.worker_id,
                lease_seconds=self.lease_seconds,
                kinds=tuple(self.kinds),
                on_failed=self._on_failed,
            )
            if job is None:
                return False
            job_id, kind, ref_id, request_id = job.id, job.kind, job.ref_id, job.request_id

        lost = threading.Event()

        def beat() -> bool:
            if lost.is_set():
                return False
            with self.sessions.begin() as s:
                held = queue.heartbeat(
                    s, job_id=job_id, worker_id=self.worker_id, lease_seconds=self.lease_seconds
                )
            if not held:
                lost.set()
            return held

        ctx = JobContext(
            self.sessions, ref_id, job_id, beat, self.settings, self.worker_id, self.lease_seconds, lost
        )
        self._current = ctx
        error: str | None = None
        with bind_job(job_id, request_id):
            log.info("job %s (%s #%s) started", job_id, kind, ref_id)
            try:
                with _Heartbeat(beat, lost, self.heartbeat_seconds):
                    self.kinds[kind].run(ctx)
            except LeaseLost:
                log.warning("job %s (%s #%s) stopped: lease lost or job cancelled", job_id, kind, ref_id)
                return True
            except Exception as exc:  # a failing job must not take the worker down
                error = queue.stored_error(exc)
                log.exception("job %s (%s #%s) failed", job_id, kind, ref_id)
            if lost.is_set():
                log.warning("job %s (%s #%s) ended after losing its lease", job_id, kind, ref_id)
                return True
            with self.sessions.begin() as session:
                queue.finish(
                    session, job_id=job_id, worker_id=self.worker_id, error=error, on_failed=self._on_failed
                )
            log.info("job %s (%s #%s) %s", job_id, kind, ref_id, "failed" if error else "done")
        return True

    def run_until_idle(self, max_jobs: int = 1_000) -> int:
        """Run jobs until none is left (tests and the CLI use this); returns how many ran."""
        ran = 0
        while ran < max_jobs and self.run_once():
            ran += 1
        return ran

    def run_forever(self) -> None:
        """Poll until stop() is called."""
        log.info("worker %s polling", self.worker_id)
        while not self._stop.is_set():
            if not self.tick():
                self._stop.wait(self.poll_seconds)

    def tick(self) -> bool:
        """One turn of the loop: the periodic tasks that are due, then at most one job (True if one ran)."""
        self._run_periodic()
        try:
            return self.run_once()
        except Exception:
            log.exception("worker loop error")
            return False

    def _run_periodic(self) -> None:
        now = time.monotonic()
        for i, (interval, task) in enumerate(self.periodic):
            if now - self._last_run[i] >= interval:
                self._last_run[i] = now
                try:
                    task(self.sessions, self.settings)
                except Exception:
                    log.exception("periodic task %s failed", getattr(task, "__name__", task))

    def stop(self) -> None:
        """Ask the loop to end after the current job."""
        self._stop.set()

    def shutdown(self, grace_seconds: float) -> bool:
        """Stop polling, wait up to `grace_seconds` for the current job, else give its lease back.

        Returns True when the worker ended idle, False when a job was handed back unfinished. The
        handed-back handler, if it is still computing, finds its lease lost at its next write.
        """
        self._stop.set()
        if self._idle.wait(grace_seconds):
            if self._thread is not None:
                self._thread.join(grace_seconds)
            return True
        ctx = self._current
        if ctx is None:
            return True
        ctx.lost.set()
        with self.sessions.begin() as session:
            released = queue.release(session, job_id=ctx.job_id, worker_id=self.worker_id)
        log.warning(
            "shutdown: job %s %s after %.0f s grace",
            ctx.job_id,
            "handed back to the queue" if released else "was no longer ours",
            grace_seconds,
        )
        return False

    def start_thread(self) -> threading.Thread:
        """Run in a daemon thread (inside the web process, or under `jieduan worker`)."""
        self._thread = threading.Thread(target=self.run_forever, name="jieduan-worker", daemon=True)
        self._thread.start()
        return self._thread
