"""A job worker process for one matching run on a cluster, whose first shard waits for the test (which kills
this process meanwhile): python -m tests.runs.doomed_driver DATABASE_URL SCHEDULER FOLDER SHARD_ROWS."""

from __future__ import annotations

import sys
from pathlib import Path

import matching.distributed as dist
from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.jobs.handlers import HANDLERS
from app.jobs.worker import Worker
from tests.dask_cluster import BlockFirstAttempt, HookedShard


def main(url: str, scheduler: str, folder: str, shard_rows: str) -> None:
    dist.run_shard = HookedShard(BlockFirstAttempt(Path(folder), shard=0))  # type: ignore[assignment]
    settings = Settings(
        env="test",
        database_url=url,
        secret_key="cluster-secret-key-0123456789abcdef",
        run_worker=False,
        dask_scheduler=scheduler,
        dask_shard_rows=int(shard_rows),
    )
    sessions = make_sessionmaker(make_engine(url))
    worker = Worker(
        sessions, HANDLERS, settings=settings, lease_seconds=2, heartbeat_seconds=0.2, name="doomed"
    )
    worker.run_once()


if __name__ == "__main__":
    main(*sys.argv[1:5])
