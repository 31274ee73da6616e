"""A Dask LocalCluster of worker processes for the distributed tests, and a shard hook to kill one by.

Hooks are pickled by reference, so they live here, in a module the workers can import cheaply.
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from distributed import Client, LocalCluster

from matching.distributed import ShardCandidates, run_shard


@pytest.fixture(scope="session")
def dask_client() -> Iterator[Client]:
    """Two single-threaded worker processes under nannies, as a real cluster has (a kill ends one)."""
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", memory_limit="1GiB"
        ) as cluster,
        Client(cluster, set_as_default=False) as client,
    ):
        # Import the model on the workers now, not inside a test's waits (seconds on a busy machine).
        client.run(importlib.import_module, "matching.distributed")
        yield client


class BlockFirstAttempt:
    """Shard hook: the first attempt at one shard writes its worker's pid and waits for `go`."""

    def __init__(self, folder: Path, shard: int, timeout: float = 600.0) -> None:
        self.folder, self.shard, self.timeout = folder, shard, timeout

    def __call__(self, shard: int) -> None:
        if shard != self.shard:
            return
        try:
            fd = os.open(self.folder / "claimed", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return  # the rerun after the kill goes straight on
        os.close(fd)
        (self.folder / "pid.tmp").write_text(str(os.getpid()))
        (self.folder / "pid.tmp").rename(self.folder / "pid")
        deadline = time.monotonic() + self.timeout
        while not (self.folder / "go").exists() and time.monotonic() < deadline:
            time.sleep(0.05)


class HookedShard:
    """matching.distributed.run_shard with a hook first (for callers that take no hook themselves)."""

    def __init__(self, hook: BlockFirstAttempt) -> None:
        self.hook = hook

    def __call__(self, *args: Any) -> ShardCandidates:
        self.hook(args[5])  # the shard number
        return run_shard(*args)


def wait_for(path: Path, seconds: float = 300.0) -> None:
    """Wait until a file exists (a worker reached a point), failing after `seconds`."""
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.05)
