"""The worker loop: claims jobs and runs their handlers, in-process (default) or as `jieduan worker`."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from app.jobs import queue

log = logging.getLogger("jieduan.worker")


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a handler gets: its own session factory (it owns its transactions) and a heartbeat."""

    sessions: sessionmaker[Session]
    ref_id: int
    job_id: int
    beat: Callable[[], bool]


Handler = Callable[[JobContext], None]
# A maintenance task run every `interval` seconds by each worker; it must be safe to run concurrently.
Periodic = tuple[float, Callable[[sessionmaker[Session]], object]]


class Worker:
    """Runs jobs one at a time; several workers (threads or processes) may share one database."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        handlers: dict[str, Handler],
        *,
        lease_seconds: int = 300,
        poll_seconds: float = 1.0,
        name: str | None = None,
        periodic: tuple[Periodic, ...] = (),
    ) -> None:
        self.sessions = sessions
        self.handlers = handlers
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.worker_id = name or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        self._stop = threading.Event()
        self.periodic = periodic
        self._last_run = [0.0] * len(periodic)

    def run_once(self) -> bool:
        """Claim and run one job; False when there was nothing to do."""
        with self.sessions.begin() as session:
            job = queue.claim_next(
                session,
                worker_id=self.worker_id,
                lease_seconds=self.lease_seconds,
                kinds=tuple(self.handlers),
            )
            if job is None:
                return False
            job_id, kind, ref_id = job.id, job.kind, job.ref_id

        def beat() -> bool:
            with self.sessions.begin() as s:
                return queue.heartbeat(
                    s, job_id=job_id, worker_id=self.worker_id, lease_seconds=self.lease_seconds
                )

        error: str | None = None
        log.info("job %s (%s #%s) started", job_id, kind, ref_id)
        try:
            self.handlers[kind](JobContext(self.sessions, ref_id, job_id, beat))
        except Exception:  # a failing job must not take the worker down
            error = traceback.format_exc(limit=20)
            log.exception("job %s (%s #%s) failed", job_id, kind, ref_id)
        with self.sessions.begin() as session:
            queue.finish(session, job_id=job_id, worker_id=self.worker_id, error=error)
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
            self._run_periodic()
            try:
                busy = self.run_once()
            except Exception:
                log.exception("worker loop error")
                busy = False
            if not busy:
                self._stop.wait(self.poll_seconds)

    def _run_periodic(self) -> None:
        now = time.monotonic()
        for i, (interval, task) in enumerate(self.periodic):
            if now - self._last_run[i] >= interval:
                self._last_run[i] = now
                try:
                    task(self.sessions)
                except Exception:
                    log.exception("periodic task %s failed", getattr(task, "__name__", task))

    def stop(self) -> None:
        """Ask the loop to end after the current job."""
        self._stop.set()

    def start_thread(self) -> threading.Thread:
        """Run in a daemon thread inside the web process (the default for `make run`)."""
        thread = threading.Thread(target=self.run_forever, name="jieduan-worker", daemon=True)
        thread.start()
        return thread
