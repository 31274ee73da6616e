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


@contextmanager
def serve(
    target: str, *, env: dict[str, str] | None = None, factory: bool = False, workers: int = 1
) -> Iterator[str]:
    """Run uvicorn for `target` until the block ends; yields the base URL."""
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
        deadline = time.monotonic() + 180  # a loaded shared machine imports slowly
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"server {target} did not start")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def percentiles(samples_ms: list[float]) -> tuple[float, float]:
    """p50 and p99 of a list of milliseconds."""
    ordered = sorted(samples_ms)
    return ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


@contextmanager
def seeded_app(database_url: str | None, **env: str) -> Iterator[tuple[str, str]]:
    """The app over a demo-seeded database (a temporary SQLite file unless a URL is given).

    Yields (database URL, base URL); `env` overrides settings such as JIEDUAN_RUN_WORKER.
    """
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        prepare_database(url)
        settings = {
            "JIEDUAN_DATABASE_URL": url,
            "JIEDUAN_RUN_WORKER": "false",
            "JIEDUAN_LOG_LEVEL": "WARNING",
            "JIEDUAN_SECRET_KEY": "bench-secret-key-0123456789abcdef",
            **env,
        }
        with serve("app.main:create_app", env=settings, factory=True) as base:
            yield url, base
