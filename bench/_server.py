"""Benchmark plumbing: a throwaway seeded database and uvicorn servers on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A free loopback TCP port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare_database(url: str) -> None:
    """Migrate, load reference data and the demo set (each step is idempotent)."""
    env = {**os.environ, "JIEDUAN_DATABASE_URL": url}
    for args in (["migrate"], ["load-reference", "--if-empty"], ["seed-demo"]):
        subprocess.run(
            [sys.executable, "-m", "app", *args], check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL
        )


@dataclass(frozen=True)
class Server:
    """A running uvicorn: its base URL and process id (to read the CPU time it used)."""

    base: str
    pid: int

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far (Linux /proc)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def serve(
    target: str, *, env: dict[str, str] | None = None, factory: bool = False, workers: int = 1
) -> Iterator[str]:
    """Run uvicorn for `target` until the block ends; yields the base URL."""
    with serve_process(target, env=env, factory=factory, workers=workers) as server:
        yield server.base


@contextmanager
def serve_process(
    target: str, *, env: dict[str, str] | None = None, factory: bool = False, workers: int = 1
) -> Iterator[Server]:
    """Run uvicorn for `target` until the block ends; yields the base URL and the process id."""
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        target,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--workers",
        str(workers),
    ]
    if factory:
        cmd.append("--factory")
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **(env or {})})
    base = f"http://127.0.0.1:{port}"
    try:
        # Generous: on a shared 2-core machine at load 10 the app's imports alone can take a minute.
        deadline = time.monotonic() + 300
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(f"server {target} exited with status {proc.returncode} before it answered")
            if time.monotonic() > deadline:
                raise RuntimeError(f"server {target} did not answer /healthz within 300 s")
            time.sleep(0.2)
        yield Server(base, proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def percentiles(samples_ms: list[float]) -> tuple[float, float]:
    """p50 and p99 of a list of milliseconds."""
    ordered = sorted(samples_ms)
    return ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def app_settings(url: str, **env: str) -> dict[str, str]:
    """Environment for serving the app over `url` (no worker, quiet logs, a fixed bench secret)."""
    return {
        "JIEDUAN_DATABASE_URL": url,
        "JIEDUAN_RUN_WORKER": "false",
        "JIEDUAN_LOG_LEVEL": "WARNING",
        "JIEDUAN_SECRET_KEY": "bench-secret-key-0123456789abcdef",
        **env,
    }


@contextmanager
def seeded_app(database_url: str | None, **env: str) -> Iterator[tuple[str, str]]:
    """The app over a demo-seeded database (a temporary SQLite file unless a URL is given).

    Yields (database URL, base URL); `env` overrides settings such as JIEDUAN_RUN_WORKER.
    """
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        prepare_database(url)
        with serve("app.main:create_app", env=app_settings(url, **env), factory=True) as base:
            yield url, base
