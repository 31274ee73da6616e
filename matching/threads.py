"""The worker threads of the exact search (NumPy's reductions, partitions, gathers and BLAS calls release
the GIL, so row slices or row blocks of one search run in parallel)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

WORKERS = max(1, min(4, os.cpu_count() or 1))
_PREFIX = "matching-search"
_pool: ThreadPoolExecutor | None = None

T = TypeVar("T")
R = TypeVar("R")


def executor(workers: int = WORKERS) -> ThreadPoolExecutor:
    """The shared worker threads (created on first use, again in a forked child)."""
    global _pool
    if _pool is None or _pool._max_workers < workers:
        _pool = ThreadPoolExecutor(workers, thread_name_prefix=_PREFIX)
    return _pool


def map_parallel(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """[fn(x) for x in items], on the worker threads when there are several items.

    Called from a worker thread it runs serially: a worker waiting on jobs queued behind itself in the
    same pool could deadlock it.
    """
    if WORKERS <= 1 or len(items) <= 1 or threading.current_thread().name.startswith(_PREFIX):
        return [fn(x) for x in items]
    jobs = [executor(WORKERS).submit(fn, x) for x in items]
    return [job.result() for job in jobs]


def _forget_pool() -> None:
    global _pool
    _pool = None  # a forked child has none of the parent's threads


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)
