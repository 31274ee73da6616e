"""The worker threads of the exact search (NumPy's reductions, partitions, gathers and BLAS calls release
the GIL, so row slices or row blocks of one search run in parallel)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

WORKERS = max(1, min(4, os.cpu_count() or 1))
_pool: ThreadPoolExecutor | None = None


def executor(workers: int = WORKERS) -> ThreadPoolExecutor:
    """The shared worker threads (created on first use, again in a forked child)."""
    global _pool
    if _pool is None or _pool._max_workers < workers:
        _pool = ThreadPoolExecutor(workers, thread_name_prefix="matching-search")
    return _pool


def _forget_pool() -> None:
    global _pool
    _pool = None  # a forked child has none of the parent's threads


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)
